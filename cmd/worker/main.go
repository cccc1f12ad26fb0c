// Command worker runs the checks of one region: it joins the region's consumer group on its
// Redis stream, probes each due check, writes the results to InfluxDB and emits the confirmed
// state transitions. Run several per region for capacity and failover.
//
//	worker --region NAME [--help]
//
// The region may also come from VIGIL_REGION; the rest of the configuration comes from the
// environment, which --help lists.
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitor/vigil/pkg/cli"
	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/connect"
	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/logging"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/worker"
)

func main() {
	cli.Main("worker", run)
}

// run wires the worker and runs it until ctx ends. Shutdown order: the worker stops reading,
// finishes the checks in flight (up to VIGIL_SHUTDOWN_TIMEOUT), flushes InfluxDB and acks
// (worker.Run returns after that); then the metrics server stops, the InfluxDB writer closes
// (a last flush) and the Redis client closes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Worker
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	region := fs.String("region", "", "region whose checks this worker runs (overrides VIGIL_REGION)")
	if err := cli.Setup(fs, "usage: worker --region NAME\n\nRuns the checks of one region.", &cfg, args, stdout, stderr); err != nil {
		return err
	}
	if *region != "" {
		cfg.Region = *region
	}
	if err := cfg.RequireRegion(); err != nil {
		return err
	}
	log := logging.New(stderr, "worker", cfg.Observability).With("region", cfg.Region)
	influxdb.InstallClientLogger(log)

	rdb, err := connect.Redis(cfg.Redis)
	if err != nil {
		return err
	}
	defer connect.CloseRedis(rdb, log)

	reg := metrics.NewRegistry()
	m := metrics.NewWorker(reg, cfg.Region)
	writer := newWriter(cfg, log, reg, m)
	defer writer.Close()
	pingCtx, cancelPing := context.WithTimeout(ctx, 5*time.Second)
	if err := writer.Ping(pingCtx); err != nil {
		// Not fatal: points wait in the writer's buffers and retries until InfluxDB is back.
		log.Warn("influxdb not reachable at start", "err", err)
	}
	cancelPing()

	keys := queue.Keys{Prefix: cfg.RedisPrefix}
	consumerName := cfg.ConsumerName()
	w, err := worker.New(worker.Params{
		Region: cfg.Region,
		Consumer: queue.NewConsumer(rdb, queue.ConsumerParams{
			Keys: keys, Region: cfg.Region, Name: consumerName, Block: 2 * time.Second,
			MaxDeliveries: cfg.MaxDeliveries, Logger: log,
		}),
		States:          queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: cfg.Region}),
		Prober:          probe.NewRegistry(probe.NewGuard(cfg.AllowTargetPrefixes()), probe.WithLogger(log)),
		Writer:          writer,
		Metrics:         m,
		Logger:          log,
		Concurrency:     cfg.Concurrency,
		ReclaimGrace:    cfg.ReclaimGrace,
		ShutdownTimeout: cfg.ShutdownTimeout,
	})
	if err != nil {
		return err
	}

	// The region's backlog, read from Redis at scrape time: what KEDA scales on and what the
	// "workers falling behind" alert watches.
	reg.MustRegister(metrics.NewStreamCollector(metrics.StreamParams{
		Inspector: queue.NewInspector(rdb, keys), Regions: metrics.StaticRegions(cfg.Region), Log: log,
	}))
	ready := connect.Ready(connect.RedisCheck(rdb), connect.Check{Name: "influxdb", Ping: writer.Ping})
	stopMetrics := metrics.Start(ctx, cfg.MetricsAddr, reg, ready, log)
	defer stopMetrics()

	log.Info("worker starting", "consumer", consumerName, "concurrency", cfg.Concurrency,
		"redis_prefix", cfg.RedisPrefix, "allow_targets", cfg.AllowTargets)
	if err := w.Run(ctx); err != nil {
		return err
	}
	log.Info("worker stopped", "influx_write_errors", writer.Errors(), "influx_dropped_batches", writer.Dropped())
	return nil
}

// newWriter returns the InfluxDB writer with its counts on reg: points handed over feed
// vigil_tsdb_points_written_total, failed attempts vigil_tsdb_write_errors_total, and the
// batches it had to give up are read at scrape time as vigil_tsdb_batches_dropped_total.
func newWriter(cfg config.Worker, log *slog.Logger, reg prometheus.Registerer, m *metrics.Worker) *influxdb.Writer {
	w := influxdb.NewWriter(influxdb.WriterParams{
		URL: cfg.InfluxURL, Token: cfg.InfluxToken, Org: cfg.InfluxOrg, Bucket: cfg.InfluxBucket,
		Logger: log, OnError: m.WriteError, OnPoints: m.PointsWritten,
	})
	metrics.RegisterBatchesDropped(reg, w.Dropped)
	return w
}
