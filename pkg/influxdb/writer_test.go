package influxdb_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

const (
	influxURL    = "http://127.0.0.1:8086"
	influxBucket = "vigil/autogen"
)

// fieldValues returns, oldest first, the values of one field of a website's check points.
func fieldValues(ctx context.Context, t *testing.T, websiteID, field string) []any {
	t.Helper()
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "check" and r.website_id == %q)
  |> filter(fn: (r) => r._field == %q)
  |> sort(columns: ["_time"])`, influxBucket, websiteID, field)
	res, err := client.QueryAPI("vigil").Query(ctx, q)
	require.NoError(t, err)
	var out []any
	for res.Next() {
		out = append(out, res.Record().Value())
	}
	require.NoError(t, res.Err())
	return out
}

func TestWriterWritesPoints(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var hooked atomic.Int64
	w := influxdb.NewWriter(influxdb.WriterParams{URL: influxURL, Bucket: influxBucket, FlushInterval: 100 * time.Millisecond,
		OnPoints: func(n int) { hooked.Add(int64(n)) }})
	defer w.Close()
	require.NoError(t, w.Ping(ctx))

	id := uuid.NewString()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	results := []monitor.Result{
		{WebsiteID: id, Region: "eu", At: t0, Outcome: monitor.OutcomeUp, StatusCode: 200,
			Phases:     monitor.Phases{DNS: time.Millisecond, Connect: 2 * time.Millisecond, TLS: 3 * time.Millisecond, TTFB: 4500 * time.Microsecond, Total: 5 * time.Millisecond},
			CertExpiry: t0.Add(30 * 24 * time.Hour)},
		{WebsiteID: id, Region: "eu", At: t0.Add(time.Second), Outcome: monitor.OutcomeDown, StatusCode: 500,
			Reason: "status", Message: "unexpected status \"500\",\nbody=x\\y", Phases: monitor.Phases{Total: 7 * time.Millisecond}},
		{WebsiteID: id, Region: "eu", At: t0.Add(2 * time.Second), Outcome: monitor.OutcomeTimeout, Reason: "timeout", Message: "no answer within 1s"},
	}
	for _, r := range results {
		require.NoError(t, w.Write(ctx, r))
	}
	require.NoError(t, w.Flush(ctx))
	require.EqualValues(t, 3, w.Points())
	require.EqualValues(t, 3, hooked.Load(), "OnPoints sees every point handed over")

	require.Equal(t, []any{"up", "down", "timeout"}, fieldValues(ctx, t, id, "outcome"))
	require.Equal(t, []any{true, false, false}, fieldValues(ctx, t, id, "up"))
	require.Equal(t, []any{int64(200), int64(500), int64(0)}, fieldValues(ctx, t, id, "status_code"))
	require.Equal(t, []any{5.0, 7.0, 0.0}, fieldValues(ctx, t, id, "response_ms"))
	require.Equal(t, []any{4.5, 0.0, 0.0}, fieldValues(ctx, t, id, "ttfb_ms"))
	require.Equal(t, []any{30.0}, fieldValues(ctx, t, id, "cert_expiry_days"), "only TLS checks carry it")
	require.Equal(t, []any{nil /* Flux reads "" as null */, `unexpected status "500", body=x\y`, "no answer within 1s"}, fieldValues(ctx, t, id, "error"))
	require.Zero(t, w.Errors())
}

func TestWriterCountsFailedWrites(t *testing.T) {
	t.Parallel()
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.Error(rw, `{"code":"forbidden","message":"insufficient permissions"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	var hook atomic.Int64
	w := influxdb.NewWriter(influxdb.WriterParams{URL: srv.URL, Bucket: influxBucket, OnError: func() { hook.Add(1) }})
	require.NoError(t, w.Write(t.Context(), monitor.Result{WebsiteID: "w", Region: "eu", At: time.Now(), Outcome: monitor.OutcomeUp}))
	require.NoError(t, w.Flush(t.Context()))
	require.Eventually(t, func() bool { return w.Errors() == 1 && hook.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	w.Close()
	require.ErrorIs(t, w.Write(t.Context(), monitor.Result{}), influxdb.ErrClosed)
	require.EqualValues(t, 1, posts.Load())
}

func TestWriterRetriesAndCountsDroppedBatches(t *testing.T) {
	t.Parallel()
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.Error(rw, `{"code":"unavailable","message":"try later"}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	w := influxdb.NewWriter(influxdb.WriterParams{URL: srv.URL, Bucket: influxBucket, MaxRetries: 1,
		RetryInterval: time.Millisecond, FlushInterval: 10 * time.Millisecond, BatchSize: 1})
	defer w.Close()
	// The client retries a failed batch when the next one is written (while writes fail, only
	// full batches go, hence BatchSize 1); after MaxRetries it is dropped and counted.
	require.Eventually(t, func() bool {
		require.NoError(t, w.Write(t.Context(), monitor.Result{WebsiteID: "w", Region: "eu", At: time.Now(), Outcome: monitor.OutcomeUp}))
		// Errors too: Dropped also counts, process-wide, other tests' client discards once
		// one of them installed the client logger.
		return w.Dropped() >= 1 && w.Errors() >= 2
	}, 10*time.Second, 20*time.Millisecond)
	require.GreaterOrEqual(t, posts.Load(), int64(2))
}

// TestWriterKeepsAnOutageOfSmallBatches: InfluxDB is away for many flush intervals while a
// point or two arrives in each. The client bounds its retry queue in batches (here 2); a batch
// per interval would overflow it, so the writer holds points back until it has a full batch or
// InfluxDB answers again, and every point arrives.
func TestWriterKeepsAnOutageOfSmallBatches(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	var mu sync.Mutex
	lines := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(rw, `{"code":"unavailable","message":"down"}`, http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/ping" {
			rw.WriteHeader(http.StatusNoContent)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			lines[strings.Fields(l)[0]] = true // measurement and tags: one per point here
		}
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w := influxdb.NewWriter(influxdb.WriterParams{URL: srv.URL, Bucket: influxBucket, BatchSize: 50,
		RetryBufferLimit: 100, RetryInterval: time.Millisecond, FlushInterval: 10 * time.Millisecond})
	defer w.Close()
	write := func(i int) {
		require.NoError(t, w.Write(t.Context(), monitor.Result{WebsiteID: fmt.Sprint("w", i), Region: "eu", At: time.Now(), Outcome: monitor.OutcomeUp}))
	}
	write(0)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(lines) == 1 }, 5*time.Second, 5*time.Millisecond)
	down.Store(true)
	// 90 points, two per flush interval: 45 intervals, under the bound of 100 points.
	const outage = 90
	for i := 1; i <= outage; i++ {
		write(i)
		if i%2 == 0 {
			require.NoError(t, waitTick(t.Context(), 10*time.Millisecond))
		}
	}
	require.Positive(t, w.Errors())
	down.Store(false)
	write(outage + 1)
	got := func() int { mu.Lock(); defer mu.Unlock(); return len(lines) }
	if !assert.Eventually(t, func() bool { return got() == outage+2 }, 10*time.Second, 10*time.Millisecond) {
		mu.Lock()
		var missing []int
		for i := 0; i <= outage+1; i++ {
			if !lines[fmt.Sprint("check,region=eu,website_id=w", i)] {
				missing = append(missing, i)
			}
		}
		mu.Unlock()
		t.Fatalf("%d of %d points written, %d batches dropped, missing %v", got(), outage+2, w.Dropped(), missing)
	}
	// Dropped() is not checked: it also counts, process-wide, what the client discarded for the
	// other tests once one of them installed the client logger.
}

// waitTick waits d: the test's writes are spread over flush intervals on purpose.
func waitTick(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestLineEscapes(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 5)
	got := influxdb.Line(monitor.Result{WebsiteID: "a b,c=d", Region: "eu", At: at, Outcome: monitor.OutcomeDown, Message: "x\"y\nz"})
	require.True(t, strings.HasPrefix(got, `check,region=eu,website_id=a\ b\,c\=d response_ms=0,`), got)
	require.Contains(t, got, `error="x\"y z"`)
	require.True(t, strings.HasSuffix(got, " 1700000000000000005"), got)
	require.NotContains(t, got, "\n")
}
