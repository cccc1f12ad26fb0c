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
	"flag"
	"fmt"
	"io"

	"github.com/vigil-monitor/vigil/pkg/cli"
	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/connect"
	"github.com/vigil-monitor/vigil/pkg/logging"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notifier"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

func main() {
	cli.Main("notifier", run)
}

// run wires the notifier and runs it until ctx ends. Shutdown order: the event loop stops
// reading and the sender stops claiming; the event in hand is committed and acknowledged and
// the send in hand is finished and recorded (each within its own timeout); then the metrics
// server, the Redis client and the PostgreSQL pool close.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Notifier
	fs := flag.NewFlagSet("notifier", flag.ContinueOnError)
	if err := cli.Setup(fs, "usage: notifier\n\nTurns state transitions into incidents, emails and webhooks.", &cfg, args, stdout, stderr); err != nil {
		return err
	}
	log := logging.New(stderr, "notifier", cfg.Observability)

	pool, rdb, closeStores, err := connect.Stores(ctx, cfg.Postgres, cfg.Redis, log)
	if err != nil {
		return err
	}
	defer closeStores()

	smtp, err := email.NewSMTP(email.Config{
		Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUser, Password: cfg.SMTPPass,
		From: cfg.SMTPFrom, TLS: cfg.SMTPTLS, Timeout: cfg.SendTimeout,
	})
	if err != nil {
		return err
	}
	if cfg.WebhookSecret == "" {
		log.Warn("VIGIL_WEBHOOK_SECRET is empty: webhooks are sent unsigned")
	}
	hookKey, err := webhook.DefaultKey(cfg.WebhookSecret)
	if err != nil {
		return fmt.Errorf("VIGIL_WEBHOOK_SECRET: %w", err)
	}
	hooks := webhook.New(probe.NewGuard(cfg.AllowTargetPrefixes()).Client(cfg.SendTimeout), hookKey, nil)

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
			Inspector: queue.NewInspector(rdb, keys), Regions: metrics.StaticRegions(), Events: true, Log: log,
		}),
	)
	n, err := notifier.New(notifier.Params{
		DB:     postgres.NewDB(pool),
		Events: events,
		// One line per channel: a new channel is its package under pkg/notify and a line here.
		Channels: notify.Registry{
			monitor.ChannelEmail:   smtp,
			monitor.ChannelWebhook: hooks,
		},
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
	ready := connect.Ready(connect.PostgresCheck(pool), connect.RedisCheck(rdb))
	stopMetrics := metrics.Start(ctx, cfg.MetricsAddr, reg, ready, log)
	defer stopMetrics()

	// The SMTP password is deliberately absent from this line and from every other.
	log.InfoContext(ctx, "notifier starting", "consumer", consumer, "redis_prefix", cfg.RedisPrefix,
		"smtp_host", cfg.SMTPHost, "smtp_port", cfg.SMTPPort, "smtp_tls", cfg.SMTPTLS,
		"smtp_auth", cfg.SMTPUser != "", "give_up", cfg.GiveUp.String(),
		"default_recipients", len(cfg.DefaultEmails()))
	if err := n.Run(ctx); err != nil {
		return err
	}
	log.Info("notifier stopped")
	return nil
}
