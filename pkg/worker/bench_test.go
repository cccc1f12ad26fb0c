package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/worker"
)

// BenchmarkWorkerThroughput measures checks per second through one worker (real probe, real
// Redis completion and ACK, real InfluxDB writes) against a local target, next to a bare Go
// HTTP loop doing the same requests with a new connection each, in the same run. Run it with
// a fixed count so both sides do the same work, e.g.
//
//	go test ./pkg/worker -run '^$' -bench WorkerThroughput -benchtime 20000x
func BenchmarkWorkerThroughput(b *testing.B) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	const concurrency = worker.DefaultConcurrency

	b.Run("bare_http_loop", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for range concurrency {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					resp, err := client.Get(target.URL)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "checks/s")
	})

	// The real probe in the same loop: the price of httptrace, the SSRF guard and the limited
	// body read, without Redis or InfluxDB.
	b.Run("probe_loop", func(b *testing.B) {
		p := realProber()
		j := job("bench", target.URL)
		j.ExpectedStatus = "200"
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for range concurrency {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if r := p.Probe(context.Background(), j); !r.Outcome.Available() {
						b.Errorf("probe: %+v", r)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "checks/s")
	})
	b.Run("worker", func(b *testing.B) { benchWorker(b, target.URL, false) })
	// The same without HTTP and InfluxDB: what Redis (read, complete, ack) alone allows.
	b.Run("worker_redis_only", func(b *testing.B) { benchWorker(b, target.URL, true) })
}

func benchWorker(b *testing.B, targetURL string, redisOnly bool) {
	const concurrency = worker.DefaultConcurrency
	{
		e := newEnv(b)
		ctx := context.Background()
		// Prefill: what the scheduler would have queued, with its pending markers.
		b.StopTimer()
		for start := 0; start < b.N; start += 1000 {
			_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for range min(1000, b.N-start) {
					j := job(uuid.NewString(), targetURL)
					j.ExpectedStatus = "200"
					raw, _ := json.Marshal(j)
					p.HSet(ctx, e.keys.Pending(region), j.WebsiteID, j.DueAt+60_000)
					p.HSet(ctx, e.keys.LastDue(region), j.WebsiteID, j.DueAt)
					p.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Checks(region), Values: map[string]any{queue.JobField: string(raw)}})
				}
				return nil
			})
			require.NoError(b, err)
		}
		writer := influxdb.NewWriter(influxdb.WriterParams{URL: influxURL, Bucket: benchBucket(b)})
		p := e.params("bench", realProber(), writer)
		if redisOnly {
			p.Prober, p.Writer = upProber(), &memWriter{}
		}
		p.Concurrency = concurrency
		w, err := worker.New(p)
		require.NoError(b, err)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)

		b.StartTimer()
		start := time.Now()
		go func() { done <- w.Run(runCtx) }()
		for w.Stats().Completed.Load() < uint64(b.N) {
			time.Sleep(time.Millisecond) // polling a counter; the measurement is the loop's end
		}
		elapsed := time.Since(start)
		b.StopTimer()

		cancel()
		require.NoError(b, <-done)
		writer.Close()
		s := w.Stats().Snapshot()
		// Up, or degraded when the shared machine is so busy that the target looks slow.
		require.EqualValues(b, b.N, s.ByOutcome[monitor.OutcomeUp]+s.ByOutcome[monitor.OutcomeDegraded], "all checks available: %+v", s)
		require.Zero(b, writer.Errors())
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checks/s")
	}
}

// benchBucket creates an InfluxDB 1.8 database of the benchmark's own and drops it when the
// benchmark ends. Every benchmark job is a new website id, and tens of thousands of them would
// push the shared database towards its max-values-per-tag limit (100,000 by default), past
// which InfluxDB refuses points for new websites: every other test would start failing.
func benchBucket(b *testing.B) string {
	b.Helper()
	db := "vigil_bench_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	influxQL(b, "CREATE DATABASE "+db)
	b.Cleanup(func() { influxQL(b, "DROP DATABASE "+db) })
	return db + "/autogen"
}

// influxQL runs an InfluxQL statement through 1.8's /query endpoint.
func influxQL(b *testing.B, q string) {
	b.Helper()
	resp, err := http.PostForm(influxURL+"/query", url.Values{"q": {q}})
	require.NoError(b, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Skipf("benchmark needs InfluxDB 1.8's /query (to create its own database): %s %s", resp.Status, body)
	}
	require.NotContains(b, string(body), `"error"`, q)
}

// BenchmarkWorkerLatencyBound isolates the reader and the completion path from the probe's CPU:
// 5,000 slots, a prober that only waits 500 ms (no socket, no CPU) and results kept in memory,
// against the real Redis; the real_probe case puts the real probe back, against a target in
// this process that answers after 500 ms. The ideal is Concurrency / 500 ms = 10,000 checks/s; what it falls
// short by is time slots spend waiting for a read or a completion rather than a check. It
// reports the rate and the mean number of slots busy checking. Run it with
//
//	go test ./pkg/worker -run '^$' -bench WorkerLatencyBound -benchtime 60000x
//
// and compare one_read_of_128 (the reader before: one read at a time of at most 128 entries)
// with the defaults.
func BenchmarkWorkerLatencyBound(b *testing.B) {
	const (
		concurrency = 5000
		delay       = 500 * time.Millisecond
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	target.Config.SetKeepAlivesEnabled(false)
	for _, c := range []struct {
		name             string
		readers, batches int
		real             bool // the real probe against a target in this process, not a wait
	}{
		{"one_read_of_128", 1, 128, false},
		{"defaults", 0, 0, false},
		{"one_read_of_128_real_probe", 1, 128, true},
		{"defaults_real_probe", 0, 0, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			ctx := context.Background()
			b.StopTimer()
			for start := 0; start < b.N; start += 1000 {
				_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for range min(1000, b.N-start) {
						j := job(uuid.NewString(), target.URL)
						j.ExpectedStatus, j.TimeoutMS = "200", 10_000
						raw, _ := json.Marshal(j)
						p.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Checks(region), Values: map[string]any{queue.JobField: string(raw)}})
					}
					return nil
				})
				require.NoError(b, err)
			}
			var running, samples, busy atomic.Int64
			slow := fakeProber{probe: func(ctx context.Context, j monitor.Job) monitor.Result {
				running.Add(1)
				defer running.Add(-1)
				t := time.NewTimer(delay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				return monitor.Result{WebsiteID: j.WebsiteID, Region: j.Region, At: time.Now(), Outcome: monitor.OutcomeUp, StatusCode: 200}
			}}
			var prober worker.Prober = slow
			if c.real {
				real := realProber()
				prober = fakeProber{probe: func(ctx context.Context, j monitor.Job) monitor.Result {
					running.Add(1)
					defer running.Add(-1)
					return real.Probe(ctx, j)
				}}
			}
			p := e.params("bench", prober, &memWriter{})
			p.Concurrency, p.Readers, p.ReadBatch = concurrency, c.readers, c.batches
			w, err := worker.New(p)
			require.NoError(b, err)
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)

			b.StartTimer()
			start := time.Now()
			go func() { done <- w.Run(runCtx) }()
			// Sample the busy slots between 10% and 90% of the work (start-up and tail excluded).
			var from, to time.Time
			var nFrom, nTo uint64
			n := uint64(b.N)
			for {
				got := w.Stats().Completed.Load()
				switch {
				case got >= n:
				case got >= n/10 && got <= n*9/10:
					if from.IsZero() {
						from, nFrom = time.Now(), got
					}
					to, nTo = time.Now(), got
					samples.Add(1)
					busy.Add(running.Load())
				}
				if got >= n {
					break
				}
				time.Sleep(time.Millisecond) // sampling a counter; the measurement is the loop's end
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			require.NoError(b, <-done)
			if to.After(from) {
				b.ReportMetric(float64(nTo-nFrom)/to.Sub(from).Seconds(), "checks/s")
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checks/s_whole")
			if samples.Load() > 0 {
				b.ReportMetric(float64(busy.Load())/float64(samples.Load()), "busy_slots")
			}
		})
	}
}
