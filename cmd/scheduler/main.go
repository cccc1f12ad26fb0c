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
	"io"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/vigil-monitor/vigil/pkg/cli"
	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/connect"
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
	cli.Main("scheduler", run)
}

// run wires the scheduler and runs it until ctx ends. Shutdown order: the scheduler stops
// dispatching, finishes the call in flight and releases the leader lock (Run returns after
// that); then the Redis client and the PostgreSQL pool close.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Scheduler
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	if err := cli.Setup(fs, "usage: scheduler\n\nDispatches due checks into the regions' Redis streams.", &cfg, args, stdout, stderr); err != nil {
		return err
	}
	log := logging.New(stderr, "scheduler", cfg.Observability)

	pool, rdb, closeStores, err := connect.Stores(ctx, cfg.Postgres, cfg.Redis, log)
	if err != nil {
		return err
	}
	defer closeStores()

	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	reg := metrics.NewRegistry()
	keys := queue.Keys{Prefix: cfg.RedisPrefix}
	s, err := scheduler.New(scheduler.Params{
		DB: postgres.NewDB(pool),
		Dispatcher: queue.NewDispatcher(rdb, queue.DispatcherParams{
			Keys: keys, MaxLen: cfg.StreamMaxLen, Batch: cfg.DispatchBatch,
		}),
		RegionKeys:     queue.NewRegionKeys(rdb, keys),
		Logger:         log,
		Recorder:       metrics.NewScheduler(reg),
		Instance:       host + "-" + strconv.Itoa(os.Getpid()),
		Tick:           cfg.Tick,
		ResyncInterval: cfg.ResyncInterval,
		LeaderRetry:    cfg.LeaderRetry,
		PendingGrace:   cfg.PendingGrace,
	})
	if err != nil {
		return err
	}
	// Ready once the schedule is loaded and both stores answer; a standby is ready too, since
	// it is warm and takes over on its own.
	stores := connect.Ready(connect.PostgresCheck(pool), connect.RedisCheck(rdb))
	ready := func(ctx context.Context) error {
		select {
		case <-s.Ready():
		default:
			return errors.New("schedule not loaded yet")
		}
		return stores(ctx)
	}
	stopMetrics := metrics.Start(ctx, cfg.MetricsAddr, reg, ready, log)
	defer stopMetrics()

	log.InfoContext(ctx, "scheduler starting", "redis_prefix", cfg.RedisPrefix)
	if err := s.Run(ctx); err != nil {
		return err
	}
	log.Info("scheduler stopped")
	return nil
}
