package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

func eventsRedis(t *testing.T) (redis.UniversalClient, queue.Keys) {
	t.Helper()
	return redistest.New(t)
}

func newEventConsumer(t *testing.T, rdb redis.UniversalClient, keys queue.Keys, name string, idle time.Duration) *queue.EventConsumer {
	t.Helper()
	c, err := queue.NewEventConsumer(rdb, keys, queue.EventConsumerParams{
		Consumer: name, Block: 50 * time.Millisecond, ClaimIdle: idle,
	})
	require.NoError(t, err)
	require.NoError(t, c.EnsureGroup(t.Context()))
	return c
}

func sampleTransition(region string) monitor.Transition {
	return monitor.Transition{
		WebsiteID: "5b1f3b8e-2f7e-4d4f-9a59-0d6f3c1f0a11", Region: region,
		From: monitor.StateUp, To: monitor.StateDown,
		At:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Outcome: monitor.OutcomeDown, Reason: "status", Message: "HTTP 503", StatusCode: 503, ResponseMS: 12,
	}
}

func TestEventConsumerReadAck(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := eventsRedis(t)

	// An event emitted before any notifier created the group is still delivered.
	_, err := queue.AddTransitionEvent(ctx, rdb, keys, sampleTransition("eu"))
	require.NoError(t, err)
	c := newEventConsumer(t, rdb, keys, "n1", time.Minute)
	require.NoError(t, c.EnsureGroup(ctx), "EnsureGroup is idempotent (BUSYGROUP)")

	evs, err := c.Read(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.NoError(t, evs[0].Err)
	require.Equal(t, sampleTransition("eu"), evs[0].Transition)

	// Nothing new: an empty read after Block, not an error and not a hang.
	evs2, err := c.Read(ctx)
	require.NoError(t, err)
	require.Empty(t, evs2)

	require.NoError(t, c.Ack(ctx, evs[0].ID))
	pending, err := rdb.XPending(ctx, keys.Events(), queue.Group).Result()
	require.NoError(t, err)
	require.Zero(t, pending.Count)
}

func TestEventConsumerMalformed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := eventsRedis(t)
	c := newEventConsumer(t, rdb, keys, "n1", time.Minute)
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events(), Values: map[string]any{"event": "{not json"}}).Err())
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events(), Values: map[string]any{"other": "x"}}).Err())
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events(), Values: map[string]any{"event": `{"region":"eu"}`}}).Err())
	evs, err := c.Read(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	for _, ev := range evs {
		require.Error(t, ev.Err)
		require.NotEmpty(t, ev.ID)
	}
}

func TestEventConsumerRecreatesLostGroup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := eventsRedis(t)
	c := newEventConsumer(t, rdb, keys, "n1", time.Minute)

	// Redis loses everything: the stream and its group are gone.
	require.NoError(t, rdb.Del(ctx, keys.Events()).Err())
	evs, err := c.Read(ctx)
	require.NoError(t, err, "NOGROUP is repaired, not returned")
	require.Empty(t, evs)

	_, err = queue.AddTransitionEvent(ctx, rdb, keys, sampleTransition("us"))
	require.NoError(t, err)
	evs, err = c.Read(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "us", evs[0].Transition.Region)
}

func TestEventConsumerClaimsFromDeadConsumer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, keys := eventsRedis(t)
	dead := newEventConsumer(t, rdb, keys, "dead", time.Minute)
	_, err := queue.AddTransitionEvent(ctx, rdb, keys, sampleTransition("eu"))
	require.NoError(t, err)
	evs, err := dead.Read(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	// dead never acknowledges. A live consumer with a short idle time takes the event over.
	live := newEventConsumer(t, rdb, keys, "live", 100*time.Millisecond)
	var got []queue.TransitionEvent
	require.Eventually(t, func() bool {
		got, err = live.Read(ctx)
		require.NoError(t, err)
		return len(got) == 1
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, evs[0].ID, got[0].ID)
	require.Equal(t, sampleTransition("eu"), got[0].Transition)
	require.NoError(t, live.Ack(ctx, got[0].ID))
	pending, err := rdb.XPending(ctx, keys.Events(), queue.Group).Result()
	require.NoError(t, err)
	require.Zero(t, pending.Count)
}

func TestEventConsumerReadEndsOnCancel(t *testing.T) {
	t.Parallel()
	rdb, keys := eventsRedis(t)
	c, err := queue.NewEventConsumer(rdb, keys, queue.EventConsumerParams{Consumer: "n1", Block: time.Hour})
	require.NoError(t, err)
	require.NoError(t, c.EnsureGroup(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.Read(ctx); done <- err }()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Read ignored the cancelled context")
	}
}
