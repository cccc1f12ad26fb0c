// Command api serves Vigil's REST API and manages its database and API keys.
//
//	api [serve]                  migrate, then serve on API_ADDR until SIGINT/SIGTERM
//	api migrate                  apply the embedded migrations and exit
//	api keys create --name NAME  create an API key and print it (the only time it is shown)
//	api keys list                list keys (never the keys themselves)
//	api keys revoke ID           revoke a key
//	api --help                   this text and the environment variables
//
// Configuration comes from the environment (config.API); --help lists the variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-monitor/vigil/pkg/cli"
	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/connect"
	"github.com/vigil-monitor/vigil/pkg/httpapi"
	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/logging"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

func main() {
	cli.Main("api", run)
}

const usageText = `usage:
  api [serve]                  migrate, then serve the REST API on API_ADDR
  api migrate                  apply the database migrations and exit
  api keys create --name NAME  create an API key and print it once
  api keys list                list API keys
  api keys revoke ID           revoke an API key`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.API
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	if err := cli.Parse(fs, usageText, &cfg, args, stdout, stderr); err != nil {
		return err
	}
	cmd := fs.Args()
	if len(cmd) > 0 && cmd[0] == "help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log := logging.New(stderr, "api", cfg.Observability)

	switch {
	case len(cmd) == 0 || cmd[0] == "serve" && len(cmd) == 1:
		return serve(ctx, cfg, log)
	case cmd[0] == "migrate" && len(cmd) == 1:
		if err := postgres.MigrateURL(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
		log.Info("migrations applied")
		return nil
	case cmd[0] == "keys":
		return keys(ctx, cfg, cmd[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown command %q (see api --help)", cli.ErrUsage, strings.Join(cmd, " "))
}

// serve runs the API until ctx ends. Shutdown order: stop accepting connections and finish the
// requests in flight within VIGIL_SHUTDOWN_TIMEOUT (http.Server.Shutdown), stop the metrics
// endpoint, then close the InfluxDB and Redis clients and the PostgreSQL pool.
func serve(ctx context.Context, cfg config.API, log *slog.Logger) error {
	// Migrate under tern's advisory lock: replicas that start together take turns.
	pool, err := connect.Postgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()

	if cfg.APIKey != "" {
		k, err := postgres.NewAPIKeyStore(pool).Ensure(ctx, "env", cfg.APIKey)
		if err != nil {
			return fmt.Errorf("VIGIL_API_KEY: %w", err)
		}
		if k.RevokedAt != nil {
			log.Warn("VIGIL_API_KEY names a revoked key; it will not authenticate", "api_key_id", k.ID)
		} else {
			log.Info("VIGIL_API_KEY accepted", "api_key_id", k.ID, "api_key_name", k.Name)
		}
	}

	rdb, err := connect.Redis(cfg.Redis)
	if err != nil {
		return err
	}
	defer connect.CloseRedis(rdb, log)
	influx := connect.Influx(cfg.Influx)
	defer influx.Close()

	guard := probe.NewGuard(cfg.AllowTargetPrefixes())
	reg := metrics.NewRegistry()
	api, err := httpapi.New(httpapi.Params{
		DB:          postgres.NewDB(pool),
		Logger:      log,
		Redis:       connect.RedisCheck(rdb).Ping,
		Influx:      influx,
		CheckTarget: guard.CheckURL,
		Checks:      influxdb.NewReader(influx.QueryAPI(cfg.InfluxOrg), cfg.InfluxBucket, nil),
		LastChecks:  queue.NewLastChecks(rdb, queue.Keys{Prefix: cfg.RedisPrefix}),
		RegionKeys:  queue.NewRegionKeys(rdb, queue.Keys{Prefix: cfg.RedisPrefix}),
		CacheTTL:    cfg.CacheTTL,
		Metrics:     metrics.NewAPI(reg),

		AuthFailLimit:      cfg.AuthFailLimit,
		TrustedProxies:     cfg.TrustedProxyPrefixes(),
		MinIntervalSeconds: cfg.MinIntervalSeconds,
		MaxWebsites:        cfg.MaxWebsites,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("API_ADDR: listen %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	stopMetrics := metrics.Start(ctx, cfg.MetricsAddr, reg, pool.Ping, log)
	defer stopMetrics()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("api listening", "addr", ln.Addr().String(), "allow_targets", cfg.AllowTargets)

	select {
	case err := <-serveErr:
		stopMetrics()
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("api shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopMetrics()
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	log.Info("api stopped")
	return nil
}

// keys runs the `api keys` subcommands.
func keys(ctx context.Context, cfg config.API, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: api keys create|list|revoke", cli.ErrUsage)
	}
	pool, err := connect.Postgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.NewAPIKeyStore(pool)

	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("api keys create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		name := fs.String("name", "", "what the key is for (required)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		n := strings.TrimSpace(*name)
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: api keys create --name NAME", cli.ErrUsage)
		}
		if msg := monitor.CheckName(n, 1, monitor.MaxAPIKeyNameChars); msg != "" {
			return fmt.Errorf("%w: api keys create --name: the name %s", cli.ErrUsage, msg)
		}
		k, plain, err := store.Create(ctx, n)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stderr, "created key %s (%s); it is shown once, store it now:\n", k.ID, k.Name); err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, plain)
		return err
	case "list":
		if len(args) != 1 {
			return fmt.Errorf("%w: api keys list", cli.ErrUsage)
		}
		list, err := store.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if _, err := fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tREVOKED"); err != nil {
			return err
		}
		for _, k := range list {
			if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix,
				k.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt)); err != nil {
				return err
			}
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return fmt.Errorf("%w: api keys revoke ID", cli.ErrUsage)
		}
		if err := store.Revoke(ctx, args[1]); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stderr, "revoked key %s\n", args[1])
		return err
	}
	return fmt.Errorf("%w: unknown command \"keys %s\" (create, list or revoke)", cli.ErrUsage, args[0])
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
