// Command scheduler turns every enabled (website, region) pair into due checks in the regions'
// Redis streams. Run as many as you like: they elect one leader through a PostgreSQL advisory
// lock, and the others keep their schedule loaded to take over within seconds.
//
//	scheduler [--help]
//
// Configuration comes from the environment; --help lists the variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/logging"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/scheduler"
)

func main() {
	// The scheduler's heap is almost all long-lived schedule (a million pairs is ~180 MB) and
	// it allocates little once loaded, so a lower GC target trades a little CPU during a resync
	// for a much lower peak RSS (issue 8: under 400 MB for a million pairs). GOGC overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(40)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(1)
	}
}

// run wires the scheduler and runs it until ctx ends. Shutdown order: the scheduler stops
// dispatching, finishes the call in flight and releases the leader lock (Run returns after
// that); then the Redis client and the PostgreSQL pool close.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Scheduler
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: scheduler\n\nDispatches due checks into the regions' Redis streams. Environment:")
		if err := config.Usage(stdout, &cfg); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log := logging.New(stderr, "scheduler", cfg.Observability)

	if err := postgres.MigrateURL(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pool.Close()

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	ropts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(ropts)
	defer func() {
		if err := rdb.Close(); err != nil {
			log.Warn("redis: close", "err", err)
		}
	}()

	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	reg := metrics.NewRegistry()
	s, err := scheduler.New(scheduler.Params{
		Pool:           pool,
		Redis:          rdb,
		Keys:           queue.Keys{Prefix: cfg.RedisPrefix},
		Logger:         log,
		Recorder:       metrics.NewScheduler(reg),
		Instance:       host + "-" + strconv.Itoa(os.Getpid()),
		Tick:           cfg.Tick,
		ResyncInterval: cfg.ResyncInterval,
		LeaderRetry:    cfg.LeaderRetry,
		PendingGrace:   cfg.PendingGrace,
		Batch:          cfg.DispatchBatch,
		StreamMaxLen:   cfg.StreamMaxLen,
	})
	if err != nil {
		return err
	}
	// Ready once the schedule is loaded and both stores answer; a standby is ready too, since
	// it is warm and takes over on its own.
	ready := func(ctx context.Context) error {
		select {
		case <-s.Ready():
		default:
			return errors.New("schedule not loaded yet")
		}
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}
	var wg sync.WaitGroup
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSrv()
	wg.Go(func() {
		if err := metrics.Serve(srvCtx, cfg.MetricsAddr, reg, ready, log); err != nil {
			log.Error("metrics server", "err", err)
		}
	})

	log.InfoContext(ctx, "scheduler starting", "redis_prefix", cfg.RedisPrefix)
	err = s.Run(ctx)
	stopSrv()
	wg.Wait()
	if err != nil {
		return err
	}
	log.Info("scheduler stopped")
	return nil
}
