package queue_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// deliver queues a job, marks it pending as the scheduler does, and reads it as consumer c.
func deliver(t *testing.T, rdb redis.UniversalClient, keys queue.Keys, c *queue.Consumer, j monitor.Job) queue.Delivery {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, rdb.HSet(ctx, keys.Pending("eu"), j.WebsiteID, j.DueAt+60_000).Err())
	require.NoError(t, rdb.HSet(ctx, keys.LastDue("eu"), j.WebsiteID, j.DueAt).Err())
	id := addJob(t, rdb, keys, j)
	ds, err := c.Read(ctx, 1)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, id, ds[0].ID)
	return ds[0]
}

func events(t *testing.T, rdb redis.UniversalClient, keys queue.Keys) []monitor.Transition {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), keys.Events(), "-", "+").Result()
	require.NoError(t, err)
	out := make([]monitor.Transition, len(msgs))
	for i, m := range msgs {
		require.NoError(t, json.Unmarshal([]byte(m.Values[queue.EventField].(string)), &out[i]))
	}
	return out
}

func TestStateCompleteConfirmsOnceAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(ctx))
	s := queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: "eu"})

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	run := func(i int, o monitor.Outcome) (queue.Delivery, queue.Completion) {
		j := testJob("w1")
		j.DueAt = t0.Add(time.Duration(i) * time.Minute).UnixMilli()
		d := deliver(t, rdb, keys, c, j)
		at := t0.Add(time.Duration(i) * time.Minute)
		r := monitor.Result{WebsiteID: "w1", Region: "eu", At: at, Outcome: o}
		switch o {
		case monitor.OutcomeDown:
			r.StatusCode, r.Reason, r.Message = 500, "status", "HTTP 500"
		case monitor.OutcomeTimeout:
			r.Reason, r.Message = "timeout", "no response"
		}
		return d, queue.Completion{Delivery: d, Now: at.Add(time.Second), Result: r}
	}

	// First failure: no transition, a retry 20 s after the check finished, pending marker gone,
	// job acked.
	_, c1 := run(0, monitor.OutcomeDown)
	res, err := s.Complete(ctx, []queue.Completion{c1})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Nil(t, res[0].Transition)
	require.Equal(t, c1.Now.Add(20*time.Second).UnixMilli(), res[0].RetryAt.UnixMilli())
	score, err := rdb.ZScore(ctx, keys.Retry("eu"), "w1").Result()
	require.NoError(t, err)
	require.Equal(t, strconv.FormatInt(res[0].RetryAt.UnixMilli(), 10), strconv.FormatFloat(score, 'f', -1, 64))
	require.EqualValues(t, 0, pendingCount(t, rdb, keys))
	require.ErrorIs(t, rdb.HGet(ctx, keys.Pending("eu"), "w1").Err(), redis.Nil)
	st, err := s.GetState(ctx, "w1")
	require.NoError(t, err)
	require.Equal(t, monitor.StateUnknown, st.State)
	require.Equal(t, 1, st.Fails)
	require.Equal(t, t0, st.Since, "times survive Redis to the nanosecond")
	require.Equal(t, monitor.Cause{Outcome: monitor.OutcomeDown, Reason: "status", Message: "HTTP 500", StatusCode: 500}, st.First,
		"the streak's first check is kept for the transition's cause")

	// Second failure confirms down, At = the first failure; applying the same completion again
	// (a retried pipeline, a redelivery) emits nothing more.
	_, c2 := run(1, monitor.OutcomeTimeout)
	for range 2 {
		res, err = s.Complete(ctx, []queue.Completion{c2})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
	}
	require.True(t, res[0].Duplicate)
	evs := events(t, rdb, keys)
	require.Len(t, evs, 1)
	require.Equal(t, monitor.StateDown, evs[0].To)
	require.Equal(t, monitor.StateUnknown, evs[0].From)
	require.Equal(t, t0, evs[0].At)
	require.Equal(t, monitor.OutcomeTimeout, evs[0].Outcome)
	require.Equal(t, "no response", evs[0].Message, "the latest details are the confirming check's")
	require.Equal(t, monitor.Cause{Outcome: monitor.OutcomeDown, Reason: "status", Message: "HTTP 500", StatusCode: 500}, evs[0].Cause(),
		"the cause is the first failing check's")
	_, err = rdb.ZScore(ctx, keys.Retry("eu"), "w1").Result()
	require.ErrorIs(t, err, redis.Nil, "a confirmed down needs no retry")
	require.EqualValues(t, 0, pendingCount(t, rdb, keys))

	// Recovery with M = 1.
	_, c3 := run(2, monitor.OutcomeUp)
	res, err = s.Complete(ctx, []queue.Completion{c3, c3})
	require.NoError(t, err)
	require.NotNil(t, res[0].Transition)
	require.True(t, res[1].Duplicate, "the same entry twice in one batch applies once")
	evs = events(t, rdb, keys)
	require.Len(t, evs, 2)
	require.Equal(t, monitor.StateUp, evs[1].To)
	require.Equal(t, t0.Add(2*time.Minute), evs[1].At)
}

func TestStateCompleteResolvesConflicts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(ctx))
	s := queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: "eu"})
	t0 := time.Now().UTC()

	// Two different jobs of the same pair complete in one batch: both read version 0, the
	// second loses the compare-and-set, re-applies the rule on the stored state and confirms.
	var cs []queue.Completion
	for i := range 2 {
		j := testJob("w1")
		j.DueAt = t0.Add(time.Duration(i) * time.Second).UnixMilli()
		d := deliver(t, rdb, keys, c, j)
		cs = append(cs, queue.Completion{Delivery: d, Now: t0, Result: monitor.Result{
			WebsiteID: "w1", Region: "eu", At: t0.Add(time.Duration(i) * time.Second), Outcome: monitor.OutcomeDown,
		}})
	}
	res, err := s.Complete(ctx, cs)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	require.Nil(t, res[0].Transition)
	require.NotNil(t, res[1].Transition)
	require.Len(t, events(t, rdb, keys), 1)
	st, err := s.GetState(ctx, "w1")
	require.NoError(t, err)
	require.Equal(t, monitor.StateDown, st.State)
	require.Equal(t, 2, st.Fails)
	require.EqualValues(t, 0, pendingCount(t, rdb, keys))
}

func TestStateCompleteKeepsANewerJobsPendingMarker(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(ctx))
	s := queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: "eu"})
	j := testJob("w1")
	d := deliver(t, rdb, keys, c, j)
	// The job outlived its deadline and the scheduler dispatched a newer one for the pair.
	require.NoError(t, rdb.HSet(ctx, keys.LastDue("eu"), "w1", j.DueAt+60_000).Err())
	require.NoError(t, rdb.HSet(ctx, keys.Pending("eu"), "w1", j.DueAt+120_000).Err())
	res, err := s.Complete(ctx, []queue.Completion{{Delivery: d, Now: time.Now(), Result: monitor.Result{
		WebsiteID: "w1", Region: "eu", At: time.Now(), Outcome: monitor.OutcomeUp,
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	v, err := rdb.HGet(ctx, keys.Pending("eu"), "w1").Int64()
	require.NoError(t, err)
	require.Equal(t, j.DueAt+120_000, v, "the newer job's marker stays")
	require.EqualValues(t, 0, pendingCount(t, rdb, keys), "the job itself is acked")
}
