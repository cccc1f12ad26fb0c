package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// testRedis returns a client on the local Redis and a key prefix of the test's own; every key
// under the prefix is deleted when the test ends.
func testRedis(t testing.TB) (redis.UniversalClient, queue.Keys) {
	t.Helper()
	return redistest.New(t)
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// newTestScheduler builds a scheduler with its own pool on the test's schema.
func newTestScheduler(t testing.TB, url string, rdb redis.UniversalClient, keys queue.Keys, name string, mod func(*Params)) *Scheduler {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	p := Params{
		DB: postgres.NewDB(pool), Dispatcher: queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys}),
		RegionKeys: queue.NewRegionKeys(rdb, keys), Logger: testLogger(t), Instance: name,
		Tick: 50 * time.Millisecond, LeaderRetry: 200 * time.Millisecond, LeaderPing: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(&p)
	}
	s, err := New(p)
	require.NoError(t, err)
	return s
}

// start runs s until the returned stop is called (or the test ends) and waits for its first
// load.
func start(t testing.TB, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("scheduler did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("scheduler stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler not ready within 10s")
	}
	return stop
}

func addRegions(t testing.TB, pool *pgxpool.Pool, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := pool.Exec(context.Background(), `INSERT INTO regions (name) VALUES ($1)`, n)
		require.NoError(t, err)
	}
}

// inTx runs sql in one transaction and, if notify is set, announces id on the channel in the
// same transaction, as the API does.
func inTx(t testing.TB, pool *pgxpool.Pool, notify string, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The simple protocol lets one call carry several statements.
		args = append([]any{pgx.QueryExecModeSimpleProtocol}, args...)
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return err
		}
		if notify != "" {
			_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, postgres.MonitorsChannel, notify)
			return err
		}
		return nil
	}))
}

// addWebsite inserts a website following all regions and returns its id.
func addWebsite(t testing.TB, pool *pgxpool.Pool, notify bool, intervalS int) string {
	t.Helper()
	id := uuid.NewString()
	n := ""
	if notify {
		n = id
	}
	inTx(t, pool, n, `INSERT INTO websites (id, name, url, interval_seconds) VALUES ($1, $2, $3, $4)`,
		id, "site "+id, "http://127.0.0.1:1/"+id, intervalS)
	return id
}

func streamJobs(t testing.TB, rdb redis.UniversalClient, key string) []monitor.Job {
	t.Helper()
	entries, err := rdb.XRange(context.Background(), key, "-", "+").Result()
	require.NoError(t, err)
	jobs := make([]monitor.Job, 0, len(entries))
	for _, e := range entries {
		var j monitor.Job
		require.NoError(t, json.Unmarshal([]byte(e.Values[queue.JobField].(string)), &j))
		jobs = append(jobs, j)
	}
	return jobs
}

// TestCoalescing drives dispatch with explicit times: a pair whose check is pending is not
// queued again and the skip is counted; once the worker clears the marker, it is.
func TestCoalescing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu")
	id := addWebsite(t, pool, false, 10)
	s := newTestScheduler(t, pool.Config().ConnString(), rdb, keys, "a", nil)
	require.NoError(t, s.resync(ctx))
	info, ok := s.Lookup(id, "eu")
	require.True(t, ok)
	due := info.NextDue

	require.NoError(t, s.dispatchDue(ctx, due.Add(-time.Millisecond)))
	require.Empty(t, streamJobs(t, rdb, keys.Checks("eu")), "nothing is due yet")

	require.NoError(t, s.dispatchDue(ctx, due))
	jobs := streamJobs(t, rdb, keys.Checks("eu"))
	require.Len(t, jobs, 1)
	require.Equal(t, id, jobs[0].WebsiteID)
	require.Equal(t, "eu", jobs[0].Region)
	require.Equal(t, due.UnixMilli(), jobs[0].DueAt)
	require.Equal(t, 10, jobs[0].IntervalSeconds)
	require.False(t, jobs[0].Retry)

	// Ten seconds later the check has not finished: skipped, and counted.
	require.NoError(t, s.dispatchDue(ctx, due.Add(10*time.Second)))
	require.Len(t, streamJobs(t, rdb, keys.Checks("eu")), 1)
	require.EqualValues(t, 1, s.Stats().Coalesced)

	// The worker finishes and clears the marker: the next due time goes out.
	require.NoError(t, rdb.HDel(ctx, keys.Pending("eu"), id).Err())
	require.NoError(t, s.dispatchDue(ctx, due.Add(20*time.Second)))
	jobs = streamJobs(t, rdb, keys.Checks("eu"))
	require.Len(t, jobs, 2)
	require.Equal(t, due.Add(20*time.Second).UnixMilli(), jobs[1].DueAt)
	require.Equal(t, Stats{Dispatched: 2, Coalesced: 1, Resyncs: 1}, s.Stats())
}

// TestRetries: a confirmation retry that a worker scheduled goes out as Retry=true when due,
// and the regular schedule is not disturbed.
func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu", "us")
	id := addWebsite(t, pool, false, 3600)
	s := newTestScheduler(t, pool.Config().ConnString(), rdb, keys, "a", nil)
	require.NoError(t, s.resync(ctx))
	info, _ := s.Lookup(id, "us")
	eu, _ := s.Lookup(id, "eu")
	// Before either region's regular due time (each has its own phase), so that only retries
	// can be dispatched at now and now+1s.
	first := info.NextDue
	if eu.NextDue.Before(first) {
		first = eu.NextDue
	}
	now := first.Add(-2 * time.Second)

	retryAt := now.Add(-time.Second).UnixMilli()
	require.NoError(t, rdb.ZAdd(ctx, keys.Retry("us"), redis.Z{Member: id, Score: float64(retryAt)}).Err())
	require.NoError(t, rdb.ZAdd(ctx, keys.Retry("us"), redis.Z{Member: uuid.NewString(), Score: float64(retryAt)}).Err())
	require.NoError(t, rdb.ZAdd(ctx, keys.Retry("eu"), redis.Z{Member: id, Score: float64(now.Add(time.Second).UnixMilli())}).Err())

	require.NoError(t, s.dispatchDue(ctx, now))
	jobs := streamJobs(t, rdb, keys.Checks("us"))
	require.Len(t, jobs, 1, "the retry of an unknown website is dropped")
	require.True(t, jobs[0].Retry)
	require.Equal(t, retryAt, jobs[0].DueAt)
	require.Equal(t, id, jobs[0].WebsiteID)
	require.Empty(t, streamJobs(t, rdb, keys.Checks("eu")), "the eu retry is not due yet")
	after, _ := s.Lookup(id, "us")
	require.Equal(t, info.NextDue, after.NextDue, "the regular schedule continues")

	require.NoError(t, s.dispatchDue(ctx, now.Add(time.Second)))
	jobs = streamJobs(t, rdb, keys.Checks("eu"))
	require.Len(t, jobs, 1)
	require.True(t, jobs[0].Retry)
	require.EqualValues(t, 2, s.Stats().Retries)
}

// TestNotify: changes made in SQL and announced with pg_notify reach the schedule within 2 s.
func TestNotify(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu", "us")
	s := newTestScheduler(t, pool.Config().ConnString(), rdb, keys, "a", nil)
	start(t, s)
	require.Zero(t, s.Pairs())

	within2s := func(msg string, cond func() bool) {
		t.Helper()
		require.Eventually(t, cond, 2*time.Second, 10*time.Millisecond, msg)
	}
	id := addWebsite(t, pool, true, 60)
	within2s("insert", func() bool {
		_, eu := s.Lookup(id, "eu")
		_, us := s.Lookup(id, "us")
		return eu && us
	})

	inTx(t, pool, id, `UPDATE websites SET interval_seconds = 120, url = 'http://127.0.0.1:1/new' WHERE id = $1`, id)
	within2s("update", func() bool {
		info, _ := s.Lookup(id, "eu")
		return info.Interval == 2*time.Minute && info.URL == "http://127.0.0.1:1/new"
	})

	inTx(t, pool, id, `UPDATE websites SET all_regions = false WHERE id = $1;
		INSERT INTO website_regions (website_id, region_id) SELECT $1, id FROM regions WHERE name = 'us'`, id)
	within2s("regions", func() bool {
		_, eu := s.Lookup(id, "eu")
		_, us := s.Lookup(id, "us")
		return !eu && us
	})

	inTx(t, pool, id, `UPDATE websites SET enabled = false WHERE id = $1`, id)
	within2s("disable", func() bool { return s.Pairs() == 0 })

	inTx(t, pool, id, `UPDATE websites SET enabled = true WHERE id = $1`, id)
	within2s("enable", func() bool { return s.Pairs() == 1 })

	inTx(t, pool, postgres.NotifyAll, `INSERT INTO regions (name) VALUES ('ap');
		UPDATE websites SET all_regions = true WHERE id = $1`, id)
	within2s("a new region, announced with *", func() bool { return s.Pairs() == 3 })

	inTx(t, pool, id, `DELETE FROM websites WHERE id = $1`, id)
	within2s("delete", func() bool { return s.Pairs() == 0 })
}

// TestResyncRepairsMissedChanges: changes made without NOTIFY are repaired by the periodic
// resync, which leaves the due times of untouched pairs alone.
func TestResyncRepairsMissedChanges(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu")
	steady := addWebsite(t, pool, false, 86400)
	gone := addWebsite(t, pool, false, 86400)
	s := newTestScheduler(t, pool.Config().ConnString(), rdb, keys, "a", func(p *Params) {
		p.ResyncInterval = 200 * time.Millisecond
	})
	start(t, s)
	before, ok := s.Lookup(steady, "eu")
	require.True(t, ok)

	added := addWebsite(t, pool, false, 86400)
	inTx(t, pool, "", `DELETE FROM websites WHERE id = $1`, gone)
	inTx(t, pool, "", `UPDATE websites SET url = 'http://127.0.0.1:1/moved' WHERE id = $1`, steady)
	resyncs := s.Stats().Resyncs
	require.Eventually(t, func() bool {
		_, a := s.Lookup(added, "eu")
		_, g := s.Lookup(gone, "eu")
		info, _ := s.Lookup(steady, "eu")
		return a && !g && info.URL == "http://127.0.0.1:1/moved" && s.Stats().Resyncs > resyncs+1
	}, 5*time.Second, 20*time.Millisecond)
	after, _ := s.Lookup(steady, "eu")
	require.Equal(t, before.NextDue, after.NextDue, "a resync does not move a phase")
}

// TestLeaderElection runs two schedulers on one schema: exactly one dispatches. The leader's
// lock connection is killed, then the new leader is stopped; each time the other one takes over
// within 15 s, and no (website, region, due time) is ever queued twice.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu", "us")
	rows := make([][]any, 300)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("site-%d", i), fmt.Sprintf("http://127.0.0.1:1/%d", i), 10}
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"websites"}, []string{"name", "url", "interval_seconds"}, pgx.CopyFromRows(rows))
	require.NoError(t, err)

	url := pool.Config().ConnString()
	slowPing := func(p *Params) { p.LeaderPing = 500 * time.Millisecond }
	a := newTestScheduler(t, url, rdb, keys, "a", slowPing)
	b := newTestScheduler(t, url, rdb, keys, "b", slowPing)
	stops := map[*Scheduler]func(){a: start(t, a), b: start(t, b)}
	require.Equal(t, 600, a.Pairs())
	require.Equal(t, 600, b.Pairs())

	// A worker stand-in: checks finish at once, so every due time would be queued if the
	// fence did not stop repeats.
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	go func() {
		for wctx.Err() == nil {
			rdb.Del(wctx, keys.Pending("eu"), keys.Pending("us"))
			loop.Sleep(wctx, 50*time.Millisecond)
		}
	}()

	leader := func() *Scheduler {
		var l *Scheduler
		require.Eventually(t, func() bool {
			n := 0
			for _, s := range []*Scheduler{a, b} {
				if s.IsLeader() {
					l, n = s, n+1
				}
			}
			return n == 1
		}, 15*time.Second, 20*time.Millisecond, "exactly one leader")
		return l
	}
	other := func(s *Scheduler) *Scheduler {
		if s == a {
			return b
		}
		return a
	}

	total := func() uint64 { return a.Stats().Dispatched + b.Stats().Dispatched }
	progresses := func(msg string) {
		t.Helper()
		before := total()
		require.Eventually(t, func() bool { return total() > before+50 }, 15*time.Second, 20*time.Millisecond, msg)
	}

	first := leader()
	progresses("the leader dispatches")
	if first.IsLeader() { // still the same term
		require.Zero(t, other(first).Stats().Dispatched, "the standby dispatches nothing")
	}

	// Kill the leader's lock connection, as if its process had died. Under load a leader may
	// step down by itself (a lock check that times out counts as lost), so kill whoever leads.
	took := time.Now()
	require.Eventually(t, func() bool {
		var killed *bool
		l := leader()
		require.NoError(t, pool.QueryRow(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1`, ApplicationName(l.p.Instance, "leader")).Scan(&killed))
		return killed != nil && *killed
	}, 15*time.Second, 10*time.Millisecond)
	second := leader()
	t.Logf("after the kill, %s leads after %s", second.p.Instance, time.Since(took))
	progresses("dispatching goes on after the kill")

	// Stop the leader: the other takes over.
	second = leader()
	stops[second]()
	took = time.Now()
	third := other(second)
	require.Eventually(t, third.IsLeader, 15*time.Second, 10*time.Millisecond)
	t.Logf("after the stop, %s leads after %s", third.p.Instance, time.Since(took))
	progresses("dispatching goes on after the stop")
	stopWorker()
	stops[third]()

	seen := map[string]bool{}
	n := 0
	for _, region := range []string{"eu", "us"} {
		for _, j := range streamJobs(t, rdb, keys.Checks(region)) {
			key := fmt.Sprintf("%s/%s/%d", j.WebsiteID, j.Region, j.DueAt)
			require.False(t, seen[key], "dispatched twice: %s", key)
			seen[key] = true
			n++
		}
	}
	st := []Stats{a.Stats(), b.Stats()}
	t.Logf("%d jobs in the streams; stats a=%+v b=%+v", n, st[0], st[1])
	require.EqualValues(t, n, st[0].Dispatched+st[1].Dispatched)
}
