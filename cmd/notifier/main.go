// Command notifier turns confirmed state transitions into regional downtimes, incidents and
// notifications (email through SMTP, signed webhooks). Run as many as you like: they share the
// events consumer group and the outbox (SKIP LOCKED), and each incident is notified once.
//
//	notifier [--help]
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
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/logging"
	"github.com/vigil-monitor/vigil/pkg/mail"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/notifier"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/webhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}

// run wires the notifier and runs it until ctx ends. Shutdown order: the event loop stops
// reading and the sender stops claiming; the event in hand is committed and acknowledged and
// the send in hand is finished and recorded (each within its own timeout); then the metrics
// server, the Redis client and the PostgreSQL pool close.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Notifier
	fs := flag.NewFlagSet("notifier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: notifier\n\nTurns state transitions into incidents, emails and webhooks. Environment:")
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
	log := logging.New(stderr, "notifier", cfg.Observability)

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

	sender, err := mail.NewSMTP(mail.Config{
		Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUser, Password: cfg.SMTPPass,
		From: cfg.SMTPFrom, TLS: cfg.SMTPTLS, Timeout: cfg.SendTimeout,
	})
	if err != nil {
		return err
	}
	if cfg.WebhookSecret == "" {
		log.Warn("VIGIL_WEBHOOK_SECRET is empty: webhooks are sent unsigned")
	}
	hooks := webhook.New(probe.NewGuard(cfg.AllowTargetPrefixes()).Client(cfg.SendTimeout), cfg.WebhookSecret)

	consumer := cfg.ConsumerName()
	keys := queue.Keys{Prefix: cfg.RedisPrefix}
	events, err := queue.NewEventConsumer(rdb, keys, queue.EventConsumerParams{
		Consumer: consumer, ClaimIdle: cfg.ClaimIdle,
	})
	if err != nil {
		return err
	}

	reg := metrics.NewRegistry()
	incidents, outbox := postgres.NewIncidentStore(pool), postgres.NewOutboxStore(pool)
	reg.MustRegister(
		metrics.IncidentsOpen(func(ctx context.Context) (float64, error) {
			n, err := incidents.CountOpen(ctx)
			return float64(n), err
		}, log),
		metrics.OutboxPending(func(ctx context.Context) (float64, error) {
			n, err := outbox.CountPending(ctx)
			return float64(n), err
		}, log),
		// The notifier's own backlog: transition events not yet applied.
		metrics.NewStreamCollector(metrics.StreamParams{
			Client: rdb, Keys: keys, Regions: metrics.StaticRegions(), Events: true, Log: log,
		}),
	)
	n, err := notifier.New(notifier.Params{
		Pool:          pool,
		Events:        events,
		Mail:          sender,
		Hooks:         hooks,
		Logger:        log,
		Metrics:       metrics.NewNotifier(reg),
		DefaultEmails: cfg.DefaultEmails(),
		DashboardURL:  cfg.DashboardURL,
		GiveUp:        cfg.GiveUp,
		SendTimeout:   cfg.SendTimeout,
	})
	if err != nil {
		return err
	}
	ready := func(ctx context.Context) error {
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

	// The SMTP password is deliberately absent from this line and from every other.
	log.InfoContext(ctx, "notifier starting", "consumer", consumer, "redis_prefix", cfg.RedisPrefix,
		"smtp_host", cfg.SMTPHost, "smtp_port", cfg.SMTPPort, "smtp_tls", cfg.SMTPTLS,
		"smtp_auth", cfg.SMTPUser != "", "give_up", cfg.GiveUp.String(),
		"default_recipients", len(cfg.DefaultEmails()))
	err = n.Run(ctx)
	stopSrv()
	wg.Wait()
	if err != nil {
		return err
	}
	log.Info("notifier stopped")
	return nil
}
