package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

func TestHelpListsVariables(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &errOut)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, v := range []string{"--region", "-region", "VIGIL_REGION", "VIGIL_WORKER_CONCURRENCY", "VIGIL_ALLOW_TARGETS",
		"VIGIL_WORKER_CONSUMER", "VIGIL_RECLAIM_GRACE", "VIGIL_MAX_DELIVERIES", "VIGIL_SHUTDOWN_TIMEOUT", "REDIS_URL", "INFLUXDB_BUCKET"} {
		require.Contains(t, out.String(), v)
	}
}

func TestRegionIsRequired(t *testing.T) {
	t.Setenv("VIGIL_REGION", "")
	var out, errOut bytes.Buffer
	err := run(context.Background(), nil, &out, &errOut)
	require.ErrorContains(t, err, "VIGIL_REGION")
	require.ErrorContains(t, err, "--region")
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	t.Setenv("VIGIL_WORKER_CONCURRENCY", "0")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--region", "eu"}, &out, &errOut)
	require.ErrorContains(t, err, "VIGIL_WORKER_CONCURRENCY")
}

// TestRunChecksAndStops runs the real binary's wiring against the local stores: a job for a
// local target is checked, its pair goes up, and a cancel (SIGTERM) stops it cleanly.
func TestRunChecksAndStops(t *testing.T) {
	rdb, keys := redistest.New(t)
	t.Setenv("VIGIL_REDIS_PREFIX", keys.Prefix)
	t.Setenv("VIGIL_ALLOW_TARGETS", "127.0.0.0/8")
	t.Setenv("VIGIL_LOG_LEVEL", "warn")
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--region", "lab"}, &out, &errOut) }()

	site := uuid.NewString()
	j, err := json.Marshal(monitor.Job{WebsiteID: site, Region: "lab", URL: target.URL, Method: "GET",
		TimeoutMS: 2000, ExpectedStatus: "200", IntervalSeconds: 60, DueAt: time.Now().UnixMilli()})
	require.NoError(t, err)
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Checks("lab"), Values: map[string]any{queue.JobField: string(j)}}).Err())
	require.Eventually(t, func() bool {
		return rdb.HGet(ctx, keys.State("lab", site), "state").Val() == string(monitor.StateUp)
	}, 10*time.Second, 10*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, errOut.String())
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop on cancel")
	}
	p, err := rdb.XPending(context.Background(), keys.Checks("lab"), queue.Group).Result()
	require.NoError(t, err)
	require.Zero(t, p.Count)
}

// The writer's counts reach /metrics: points handed over, and the dropped batches read at
// scrape time.
func TestWriterMetrics(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	m := metrics.NewWorker(reg, "lab")
	cfg := config.Worker{Influx: config.Influx{InfluxURL: "http://127.0.0.1:8086", InfluxBucket: "vigil/autogen"}}
	w := newWriter(cfg, slog.New(slog.DiscardHandler), reg, m)
	defer w.Close()
	site := uuid.NewString()
	for range 3 {
		require.NoError(t, w.Write(t.Context(), monitor.Result{WebsiteID: site, Region: "lab", At: time.Now(), Outcome: monitor.OutcomeUp}))
	}
	require.NoError(t, w.Flush(t.Context()))

	fams, err := reg.Gather()
	require.NoError(t, err)
	got, found := metrics.Sum(fams, "vigil_tsdb_points_written_total", nil)
	require.True(t, found)
	require.EqualValues(t, 3, got)
	got, found = metrics.Sum(fams, "vigil_tsdb_batches_dropped_total", nil)
	require.True(t, found, "dropped batches are exported")
	require.EqualValues(t, w.Dropped(), got)
	got, found = metrics.Sum(fams, "vigil_tsdb_write_errors_total", nil)
	require.True(t, found)
	require.Zero(t, got)
}
