package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/google/uuid"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/worker"
)

const (
	region       = "eu"
	influxURL    = "http://127.0.0.1:8086"
	influxBucket = "vigil/autogen"
)

// env is one test's Redis key space and the pieces a worker is built from.
type env struct {
	t    testing.TB
	rdb  redis.UniversalClient
	keys queue.Keys
}

func newEnv(t testing.TB) *env {
	t.Helper()
	rdb, keys := redistest.New(t)
	return &env{t: t, rdb: rdb, keys: keys}
}

func (e *env) consumer(name string) *queue.Consumer {
	return queue.NewConsumer(e.rdb, queue.ConsumerParams{
		Keys: e.keys, Region: region, Name: name, Block: 50 * time.Millisecond, MaxDeliveries: 5,
	})
}

func (e *env) params(name string, p worker.Prober, w worker.ResultWriter) worker.Params {
	return worker.Params{
		Region:       region,
		Consumer:     e.consumer(name),
		States:       queue.NewStateStore(e.rdb, queue.StateParams{Keys: e.keys, Region: region}),
		Prober:       p,
		Writer:       w,
		Concurrency:  16,
		ReclaimEvery: 20 * time.Millisecond,
		ReclaimGrace: time.Minute,
	}
}

// start runs a worker until the test ends (or stop is called) and returns stop, which cancels
// it and waits for Run to return.
func (e *env) start(p worker.Params) (*worker.Worker, func()) {
	e.t.Helper()
	w, err := worker.New(p)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(e.t, err)
			case <-time.After(30 * time.Second):
				e.t.Error("worker did not stop")
			}
		})
	}
	e.t.Cleanup(stop)
	return w, stop
}

// enqueue does what the scheduler does: pending marker, fence, XADD.
func (e *env) enqueue(j monitor.Job) string {
	e.t.Helper()
	ctx := context.Background()
	b, err := json.Marshal(j)
	require.NoError(e.t, err)
	require.NoError(e.t, e.rdb.HSet(ctx, e.keys.Pending(region), j.WebsiteID, j.DueAt+int64(j.TimeoutMS)+30_000).Err())
	require.NoError(e.t, e.rdb.HSet(ctx, e.keys.LastDue(region), j.WebsiteID, j.DueAt).Err())
	id, err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Checks(region), Values: map[string]any{queue.JobField: string(b)}}).Result()
	require.NoError(e.t, err)
	return id
}

func (e *env) pending() int64 {
	e.t.Helper()
	p, err := e.rdb.XPending(context.Background(), e.keys.Checks(region), queue.Group).Result()
	if err != nil && queue.IsNoGroup(err) {
		return 0
	}
	require.NoError(e.t, err)
	return p.Count
}

func (e *env) events() []monitor.Transition {
	e.t.Helper()
	msgs, err := e.rdb.XRange(context.Background(), e.keys.Events(), "-", "+").Result()
	require.NoError(e.t, err)
	out := make([]monitor.Transition, len(msgs))
	for i, m := range msgs {
		require.NoError(e.t, json.Unmarshal([]byte(m.Values[queue.EventField].(string)), &out[i]))
	}
	return out
}

func job(website, url string) monitor.Job {
	return monitor.Job{
		WebsiteID: website, Region: region, URL: url, Method: http.MethodGet,
		TimeoutMS: 2000, ExpectedStatus: "200-299", IntervalSeconds: 60,
		ConfirmationsDown: 2, ConfirmationsUp: 1, RetryIntervalSeconds: 20,
		DueAt: time.Now().UnixMilli(),
	}
}

// fakeProber is a Prober made of a function field.
type fakeProber struct {
	probe func(ctx context.Context, j monitor.Job) monitor.Result
}

func (f fakeProber) Probe(ctx context.Context, j monitor.Job) monitor.Result { return f.probe(ctx, j) }

// memWriter keeps results in memory.
type memWriter struct {
	mu      sync.Mutex
	results []monitor.Result
	flushes atomic.Int64
}

func (m *memWriter) Write(_ context.Context, r monitor.Result) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results = append(m.results, r)
	return nil
}

func (m *memWriter) Flush(context.Context) error { m.flushes.Add(1); return nil }

func (m *memWriter) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.results)
}

func upProber() fakeProber {
	return fakeProber{probe: func(_ context.Context, j monitor.Job) monitor.Result {
		return monitor.Result{WebsiteID: j.WebsiteID, Region: j.Region, At: time.Now(), Outcome: monitor.OutcomeUp, StatusCode: 200}
	}}
}

func realProber() *probe.Registry {
	return probe.NewRegistry(probe.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
}

// fluxValues polls InfluxDB for a field of a website's points until want of them are there.
func fluxValues(t *testing.T, websiteID, field string, want int) []any {
	t.Helper()
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: -10m)
  |> filter(fn: (r) => r._measurement == "check" and r.website_id == %q and r.region == %q)
  |> filter(fn: (r) => r._field == %q)
  |> group()
  |> sort(columns: ["_time"])`, influxBucket, websiteID, region, field)
	var out []any
	require.Eventually(t, func() bool {
		res, err := client.QueryAPI("vigil").Query(context.Background(), q)
		require.NoError(t, err)
		out = out[:0]
		for res.Next() {
			out = append(out, res.Record().Value())
		}
		require.NoError(t, res.Err())
		return len(out) >= want
	}, 10*time.Second, 50*time.Millisecond, "%s of %s: got %v", field, websiteID, out)
	return out
}

func TestWorkerEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var status atomic.Int64
	status.Store(http.StatusOK)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		fmt.Fprintln(w, "hello")
	}))
	defer target.Close()

	writer := influxdb.NewWriter(influxdb.WriterParams{URL: influxURL, Bucket: influxBucket, FlushInterval: 100 * time.Millisecond})
	defer writer.Close()
	w, stop := e.start(e.params("w1", realProber(), writer))

	site := uuid.NewString()
	// One check at a time, as the scheduler's coalescing guarantees for a pair.
	check := func(code int) {
		t.Helper()
		status.Store(int64(code))
		before := w.Stats().Completed.Load()
		e.enqueue(job(site, target.URL))
		require.Eventually(t, func() bool { return w.Stats().Completed.Load() == before+1 }, 10*time.Second, 5*time.Millisecond)
	}
	check(200)
	require.Len(t, e.events(), 1, "unknown -> up")
	check(500)
	require.Len(t, e.events(), 1, "one failure is a blip")
	retryAt, err := e.rdb.ZScore(context.Background(), e.keys.Retry(region), site).Result()
	require.NoError(t, err, "a first failure asks for a confirmation retry")
	require.Greater(t, int64(retryAt), time.Now().Add(15*time.Second).UnixMilli())
	check(500)
	check(500)
	check(200)

	evs := e.events()
	require.Len(t, evs, 3, "up, then exactly one down, then up")
	require.Equal(t, monitor.StateDown, evs[1].To)
	require.Equal(t, monitor.OutcomeDown, evs[1].Outcome)
	require.Equal(t, 500, evs[1].StatusCode)
	require.Equal(t, monitor.StateUp, evs[2].To)
	require.EqualValues(t, 0, e.pending(), "every finished job is acked")
	require.EqualValues(t, 0, e.rdb.HLen(context.Background(), e.keys.Pending(region)).Val(), "pending markers cleared")

	t.Logf("writer points=%d errors=%d dropped=%d", writer.Points(), writer.Errors(), writer.Dropped())
	require.Equal(t, []any{"up", "down", "down", "down", "up"}, fluxValues(t, site, "outcome", 5))
	codes := fluxValues(t, site, "status_code", 5)
	require.Equal(t, []any{int64(200), int64(500), int64(500), int64(500), int64(200)}, codes)
	// The down transition starts at the first failing check's time, as written to InfluxDB.
	client := influxdb2.NewClient(influxURL, "")
	defer client.Close()
	res, err := client.QueryAPI("vigil").Query(context.Background(), fmt.Sprintf(`from(bucket: %q)
  |> range(start: -10m)
  |> filter(fn: (r) => r._measurement == "check" and r.website_id == %q)
  |> filter(fn: (r) => r._field == "outcome")
  |> sort(columns: ["_time"])`, influxBucket, site))
	require.NoError(t, err)
	var times []time.Time
	for res.Next() {
		times = append(times, res.Record().Time())
	}
	require.NoError(t, res.Err())
	require.Len(t, times, 5)
	require.True(t, evs[1].At.Equal(times[1]), "down At %v, first failure %v", evs[1].At, times[1])
	require.True(t, evs[2].At.Equal(times[4]))

	stop()
	require.Zero(t, writer.Errors())
	s := w.Stats().Snapshot()
	require.EqualValues(t, 2, s.ByOutcome[monitor.OutcomeUp])
	require.EqualValues(t, 3, s.ByOutcome[monitor.OutcomeDown])
	require.EqualValues(t, 3, s.Transitions)
}

func TestWorkerAcksOnlyAfterCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	started := make(chan struct{})
	release := make(chan struct{})
	p := fakeProber{probe: func(_ context.Context, j monitor.Job) monitor.Result {
		close(started)
		<-release
		return monitor.Result{WebsiteID: j.WebsiteID, At: time.Now(), Outcome: monitor.OutcomeUp}
	}}
	mw := &memWriter{}
	w, _ := e.start(e.params("w1", p, mw))
	e.enqueue(job(uuid.NewString(), "http://127.0.0.1:1/"))
	<-started
	require.EqualValues(t, 1, e.pending(), "a running check's job is not acked")
	close(release)
	// The worker counts a completion once the completion script (which ACKs) has returned, so
	// wait for the count, not just for the ACK.
	require.Eventually(t, func() bool { return e.pending() == 0 && w.Stats().Completed.Load() == 1 },
		5*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, mw.len())
}

func TestWorkerReclaimsAJobADeadConsumerLeft(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dead := e.consumer("dead")
	require.NoError(t, dead.EnsureGroup(context.Background()))
	j := job(uuid.NewString(), "http://127.0.0.1:1/")
	j.TimeoutMS = 100
	id := e.enqueue(j)
	ds, err := dead.Read(context.Background(), 1)
	require.NoError(t, err)
	require.Len(t, ds, 1) // "dead" is killed here: it never acks

	mw := &memWriter{}
	p := e.params("live", upProber(), mw)
	p.ReclaimGrace = 200 * time.Millisecond
	w, _ := e.start(p)
	require.Eventually(t, func() bool { return e.pending() == 0 && w.Stats().Completed.Load() == 1 },
		10*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 1, w.Stats().Reclaimed.Load())
	require.Equal(t, 1, mw.len())
	msgs, err := e.rdb.XRange(context.Background(), e.keys.Checks(region), id, id).Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1, "the entry itself stays in the stream (MAXLEN trims it)")
}

func TestWorkerGracefulStopCompletesWhatItStarted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var running atomic.Int64
	p := fakeProber{probe: func(_ context.Context, j monitor.Job) monitor.Result {
		running.Add(1)
		time.Sleep(300 * time.Millisecond) // a check that takes a while; not a wait for a condition
		return monitor.Result{WebsiteID: j.WebsiteID, At: time.Now(), Outcome: monitor.OutcomeUp}
	}}
	mw := &memWriter{}
	params := e.params("w1", p, mw)
	params.Concurrency = 4
	w, stop := e.start(params)
	for range 12 {
		e.enqueue(job(uuid.NewString(), "http://127.0.0.1:1/"))
	}
	require.Eventually(t, func() bool { return running.Load() >= 4 }, 5*time.Second, 5*time.Millisecond)
	stop()
	started := running.Load()
	require.EqualValues(t, started, w.Stats().Completed.Load(), "every started check completes")
	require.EqualValues(t, 0, e.pending(), "no pending entries for finished jobs")
	require.Equal(t, int(started), mw.len())
	require.GreaterOrEqual(t, mw.flushes.Load(), int64(1), "the writer is flushed on the way out")
	n, err := e.rdb.XLen(context.Background(), e.keys.Checks(region)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 12, n, "the jobs never read are still queued for the next worker")
}

// A worker that ran out of file descriptors gets reason "worker" from the probe: that is no
// verdict on the site. Nothing is recorded, the pair's state is untouched, the job stays
// pending for a reclaim, the fault is counted, and the worker pauses before taking more jobs.
func TestWorkerFaultIsNoVerdict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var probed atomic.Int32
	p := fakeProber{probe: func(_ context.Context, j monitor.Job) monitor.Result {
		probed.Add(1)
		return monitor.Result{WebsiteID: j.WebsiteID, At: time.Now(), Outcome: monitor.OutcomeDown,
			Reason: probe.ReasonWorker, Message: "dial tcp: socket: too many open files"}
	}}
	mw := &memWriter{}
	params := e.params("w1", p, mw)
	params.Concurrency = 1
	w, stop := e.start(params)
	defer stop()
	site := uuid.NewString()
	e.enqueue(job(site, "http://127.0.0.1:1/"))
	e.enqueue(job(uuid.NewString(), "http://127.0.0.1:1/"))
	require.Eventually(t, func() bool { return w.Stats().Faults.Load() == 1 }, 5*time.Second, 5*time.Millisecond)

	// The second job waits out the pause (a second) instead of failing at once.
	require.Never(t, func() bool { return probed.Load() > 1 }, 500*time.Millisecond, 10*time.Millisecond)
	require.Eventually(t, func() bool { return w.Stats().Faults.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, mw.len(), "a fault of the worker is not a result")
	require.Zero(t, w.Stats().Completed.Load())
	require.EqualValues(t, 2, e.pending(), "the jobs stay pending for a reclaim")
	require.Empty(t, e.events())
	st, err := queue.NewStateStore(e.rdb, queue.StateParams{Keys: e.keys, Region: region}).GetState(context.Background(), site)
	require.NoError(t, err)
	require.Zero(t, st.Fails, "nor counted towards a confirmation")
}

func TestWorkerShutdownTimeoutAbandonsUnfinishedChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	started := make(chan struct{}, 1)
	p := fakeProber{probe: func(ctx context.Context, j monitor.Job) monitor.Result {
		started <- struct{}{}
		<-ctx.Done() // a check that would outlive the stop
		return monitor.Result{WebsiteID: j.WebsiteID, At: time.Now(), Outcome: monitor.OutcomeTimeout, Reason: "canceled"}
	}}
	mw := &memWriter{}
	params := e.params("w1", p, mw)
	params.ShutdownTimeout = 400 * time.Millisecond
	w, stop := e.start(params)
	e.enqueue(job(uuid.NewString(), "http://127.0.0.1:1/"))
	<-started
	t0 := time.Now()
	stop()
	require.Less(t, time.Since(t0), 5*time.Second)
	require.EqualValues(t, 1, w.Stats().Abandoned.Load())
	require.Zero(t, mw.len(), "a cancelled check is not a result")
	require.EqualValues(t, 1, e.pending(), "its job stays pending for another consumer")
	require.Empty(t, e.events())
}

// The real probe, cut short by the shutdown deadline, returns reason "canceled": that check is
// neither written, nor folded into the pair's state, nor acked.
func TestWorkerDiscardsAProbeCanceledByTheStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	arrived := make(chan struct{}, 1)
	hang := make(chan struct{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select { // accepts and never answers, until the test ends
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer target.Close()
	defer close(hang)

	var reasons sync.Map
	p := realProber()
	spy := fakeProber{probe: func(ctx context.Context, j monitor.Job) monitor.Result {
		r := p.Probe(ctx, j)
		reasons.Store(j.WebsiteID, r.Reason)
		return r
	}}
	mw := &memWriter{}
	params := e.params("w1", spy, mw)
	params.ShutdownTimeout = 400 * time.Millisecond
	w, stop := e.start(params)
	site := uuid.NewString()
	j := job(site, target.URL)
	j.TimeoutMS = 30_000
	e.enqueue(j)
	<-arrived
	stop()
	reason, _ := reasons.Load(site)
	require.Equal(t, probe.ReasonCanceled, reason)
	require.EqualValues(t, 1, w.Stats().Abandoned.Load())
	require.Zero(t, w.Stats().Completed.Load())
	require.Zero(t, mw.len(), "a canceled check is not recorded")
	require.EqualValues(t, 1, e.pending(), "nor acked: another consumer runs it again")
	require.Empty(t, e.events())
	st, err := queue.NewStateStore(e.rdb, queue.StateParams{Keys: e.keys, Region: region}).GetState(context.Background(), site)
	require.NoError(t, err)
	require.Equal(t, monitor.StateUnknown, st.State)
	require.Zero(t, st.Fails, "nor counted towards a confirmation")
}

func TestWorkerDeadLettersAJobThatKeepsFailing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Five consumers in turn took the job and died with it.
	j := job(uuid.NewString(), "http://127.0.0.1:1/")
	j.TimeoutMS = 1
	id := e.enqueue(j)
	c := e.consumer("crashy")
	ds, err := c.Read(context.Background(), 1)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	for n := 2; n <= 5; {
		res, err := c.Reclaim(context.Background(), time.Millisecond, 1)
		require.NoError(t, err)
		n += len(res.Deliveries)
	}
	mw := &memWriter{}
	p := e.params("live", upProber(), mw)
	p.ReclaimGrace = 50 * time.Millisecond
	w, _ := e.start(p)
	require.Eventually(t, func() bool { return w.Stats().DeadLettered.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, mw.len())
	require.EqualValues(t, 0, e.pending())
	dl, err := e.rdb.XRange(context.Background(), e.keys.DeadLetter(region), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, dl, 1)
	require.Equal(t, id, dl[0].Values["original_id"])
}
