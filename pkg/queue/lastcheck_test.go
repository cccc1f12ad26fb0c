package queue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// TestLastChecksFollowTheCompletions: the completion writes each check's details into the
// pair's state; LastChecks reads them back for many pairs at once, leaves out pairs without a
// state or with a state written before the details existed, and a late, stale result does not
// replace the last check.
func TestLastChecksFollowTheCompletions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(ctx))
	s := queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: "eu"})
	lc := queue.NewLastChecks(rdb, keys)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	complete := func(website string, at time.Time, r monitor.Result) {
		t.Helper()
		j := testJob(website)
		j.DueAt = at.UnixMilli()
		d := deliver(t, rdb, keys, c, j)
		r.WebsiteID, r.Region, r.At = website, "eu", at
		res, err := s.Complete(ctx, []queue.Completion{{Delivery: d, Result: r, Now: at}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
	}
	complete("w1", t0, monitor.Result{Outcome: monitor.OutcomeUp, StatusCode: 200,
		Phases: monitor.Phases{Total: 123456 * time.Microsecond}})
	complete("w2", t0, monitor.Result{Outcome: monitor.OutcomeTimeout, Reason: "timeout", Message: "no response in 2s"})
	complete("w2", t0.Add(time.Minute), monitor.Result{Outcome: monitor.OutcomeDown, StatusCode: 503, Reason: "status", Message: "HTTP 503",
		Phases: monitor.Phases{Total: 40 * time.Millisecond}})
	// A late result older than the last check: not the last check.
	complete("w2", t0.Add(30*time.Second), monitor.Result{Outcome: monitor.OutcomeUp, StatusCode: 200})
	// A state hash from before the details existed.
	require.NoError(t, rdb.HSet(ctx, keys.State("eu", "w3"), "version", 1, "last_at", t0.UnixNano(), "last_outcome", "up").Err())

	got, err := lc.LastChecks(ctx, []queue.Pair{{"w1", "eu"}, {"w2", "eu"}, {"w3", "eu"}, {"w1", "us"}, {"w4", "eu"}})
	require.NoError(t, err)
	require.Equal(t, []queue.LastCheck{
		{Pair: queue.Pair{WebsiteID: "w1", Region: "eu"}, At: t0, Outcome: monitor.OutcomeUp, ResponseMS: 123.456, StatusCode: 200},
		{Pair: queue.Pair{WebsiteID: "w2", Region: "eu"}, At: t0.Add(time.Minute), Outcome: monitor.OutcomeDown, ResponseMS: 40,
			StatusCode: 503, Reason: "status", Message: "HTTP 503"},
	}, got)

	none, err := lc.LastChecks(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, none)
}
