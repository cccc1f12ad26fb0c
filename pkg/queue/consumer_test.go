package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// testRedis returns a client on the local Redis and a key prefix of the test's own; every key
// under the prefix is deleted when the test ends.
func testRedis(t *testing.T) (redis.UniversalClient, queue.Keys) {
	t.Helper()
	return redistest.New(t)
}

func newConsumer(rdb redis.UniversalClient, keys queue.Keys, name string) *queue.Consumer {
	return queue.NewConsumer(rdb, queue.ConsumerParams{
		Keys: keys, Region: "eu", Name: name, Block: 50 * time.Millisecond, MaxDeliveries: 5,
	})
}

func addJob(t *testing.T, rdb redis.UniversalClient, keys queue.Keys, j monitor.Job) string {
	t.Helper()
	b, err := json.Marshal(j)
	require.NoError(t, err)
	id, err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: keys.Checks(j.Region), Values: map[string]any{queue.JobField: string(b)}}).Result()
	require.NoError(t, err)
	return id
}

func testJob(website string) monitor.Job {
	return monitor.Job{
		WebsiteID: website, Region: "eu", URL: "http://127.0.0.1:1/", Method: "GET",
		TimeoutMS: 1000, ExpectedStatus: "200-399", IntervalSeconds: 60,
		ConfirmationsDown: 2, ConfirmationsUp: 1, RetryIntervalSeconds: 20, DueAt: time.Now().UnixMilli(),
	}
}

func pendingCount(t *testing.T, rdb redis.UniversalClient, keys queue.Keys) int64 {
	t.Helper()
	p, err := rdb.XPending(t.Context(), keys.Checks("eu"), queue.Group).Result()
	require.NoError(t, err)
	return p.Count
}

func TestConsumerEnsureGroupIdempotent(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(t.Context()))
	require.NoError(t, c.EnsureGroup(t.Context()), "BUSYGROUP is not an error")
	groups, err := rdb.XInfoGroups(t.Context(), keys.Checks("eu")).Result()
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, queue.Group, groups[0].Name)
}

func TestConsumerReadsJobsQueuedBeforeTheGroup(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	id := addJob(t, rdb, keys, testJob("w1"))
	c := newConsumer(rdb, keys, "c1")
	// No EnsureGroup: Read creates the missing group (NOGROUP) from "0" and reads again.
	ds, err := c.Read(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, id, ds[0].ID)
	require.Equal(t, "w1", ds[0].Job.WebsiteID)
	require.EqualValues(t, 1, ds[0].Deliveries)

	// Empty read: no error, nothing returned, and the entry stays pending until acked.
	ds, err = c.Read(t.Context(), 10)
	require.NoError(t, err)
	require.Empty(t, ds)
	require.EqualValues(t, 1, pendingCount(t, rdb, keys))
	require.NoError(t, c.Ack(t.Context(), id))
	require.EqualValues(t, 0, pendingCount(t, rdb, keys))
}

func TestConsumerRecreatesLostGroup(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(t.Context()))
	// Redis lost everything (a restart without persistence).
	require.NoError(t, rdb.Del(t.Context(), keys.Checks("eu")).Err())
	addJob(t, rdb, keys, testJob("w1"))
	ds, err := c.Read(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
}

func TestConsumerReadStopsOnCancel(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	c := queue.NewConsumer(rdb, queue.ConsumerParams{Keys: keys, Region: "eu", Name: "c1", Block: time.Minute})
	require.NoError(t, c.EnsureGroup(t.Context()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx, 1)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked read did not end on cancel (ContextTimeoutEnabled)")
	}
}

// A dead consumer's jobs are reclaimed each after its own timeout plus the grace: a short
// check's job as soon as that has passed, while a long check's job in the same stream (which
// its consumer may still be running) is left alone. Many long jobs ahead of the short one in the
// pending list do not hide it.
func TestConsumerReclaimFromDeadConsumerAfterTheJobsOwnTimeout(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	dead := newConsumer(rdb, keys, "dead")
	live := newConsumer(rdb, keys, "live")
	require.NoError(t, dead.EnsureGroup(t.Context()))
	const longJobs = 70 // more than one XPENDING page
	for i := range longJobs {
		long := testJob(fmt.Sprintf("w-long-%d", i))
		long.TimeoutMS = 30_000
		addJob(t, rdb, keys, long)
	}
	short := testJob("w-short") // TimeoutMS 1000
	shortID := addJob(t, rdb, keys, short)
	read := time.Now() // before the read: Redis stamps the delivery during it
	ds, err := dead.Read(t.Context(), longJobs+1)
	require.NoError(t, err)
	require.Len(t, ds, longJobs+1) // and "dead" never acks

	const grace = 200 * time.Millisecond
	res, err := live.Reclaim(t.Context(), grace, 10)
	require.NoError(t, err)
	require.Empty(t, res.Deliveries, "nothing has outlived its timeout yet")

	var got queue.ReclaimResult
	require.Eventually(t, func() bool {
		got, err = live.Reclaim(t.Context(), grace, 10)
		require.NoError(t, err)
		return len(got.Deliveries) > 0
	}, 10*time.Second, 10*time.Millisecond)
	took := time.Since(read)
	t.Logf("1 s job reclaimed %v after the read (timeout + grace = 1.2 s)", took)
	// Redis keeps idle times in whole milliseconds: allow for its rounding.
	require.GreaterOrEqual(t, took, time.Second+grace-2*time.Millisecond)
	require.Len(t, got.Deliveries, 1, "only the short job")
	require.Equal(t, shortID, got.Deliveries[0].ID)
	require.Equal(t, "w-short", got.Deliveries[0].Job.WebsiteID)
	require.EqualValues(t, 2, got.Deliveries[0].Deliveries)

	ext, err := rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: keys.Checks("eu"), Group: queue.Group, Start: "-", End: "+", Count: 1000}).Result()
	require.NoError(t, err)
	require.Len(t, ext, longJobs+1)
	owners := map[string]int{}
	for _, e := range ext {
		owners[e.Consumer]++
		if e.ID == shortID {
			require.Equal(t, "live", e.Consumer)
		}
	}
	require.Equal(t, map[string]int{"dead": longJobs, "live": 1}, owners, "the 30 s jobs stay with their consumer")

	// Claimed just now by "live": its idle time starts again, so nobody takes it back.
	res, err = dead.Reclaim(t.Context(), grace, 10)
	require.NoError(t, err)
	require.Empty(t, res.Deliveries)
}

// An entry the stream trimmed while it was pending has nothing left to run: Reclaim acks it.
func TestConsumerReclaimAcksTrimmedEntries(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(t.Context()))
	j := testJob("w1")
	j.TimeoutMS = 1
	id := addJob(t, rdb, keys, j)
	ds, err := c.Read(t.Context(), 1)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NoError(t, rdb.XDel(t.Context(), keys.Checks("eu"), id).Err())

	var deleted int
	require.Eventually(t, func() bool {
		res, err := c.Reclaim(t.Context(), time.Millisecond, 10)
		require.NoError(t, err)
		require.Empty(t, res.Deliveries)
		deleted += res.Deleted
		return deleted == 1
	}, 5*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 0, pendingCount(t, rdb, keys))
}

func TestConsumerDeadLettersAfterMaxDeliveries(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(t.Context()))
	job := testJob("w-poison")
	job.TimeoutMS = 1
	id := addJob(t, rdb, keys, job)
	ds, err := c.Read(t.Context(), 1)
	require.NoError(t, err)
	require.Len(t, ds, 1)

	// Deliveries 2..5 run again; the next reclaim finds it delivered 5 times and dead-letters it.
	runs := 1
	var dead int
	require.Eventually(t, func() bool {
		res, err := c.Reclaim(t.Context(), time.Millisecond, 10)
		require.NoError(t, err)
		runs += len(res.Deliveries)
		dead += res.DeadLettered
		return dead == 1
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 5, runs, "a job runs MaxDeliveries times before it is dead-lettered")
	require.EqualValues(t, 0, pendingCount(t, rdb, keys))

	msgs, err := rdb.XRange(t.Context(), keys.DeadLetter("eu"), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	var got monitor.Job
	require.NoError(t, json.Unmarshal([]byte(msgs[0].Values[queue.JobField].(string)), &got))
	require.Equal(t, job.WebsiteID, got.WebsiteID)
	require.Equal(t, id, msgs[0].Values["original_id"])
	require.Equal(t, "6", msgs[0].Values["deliveries"])
	require.Contains(t, msgs[0].Values["reason"], "5 deliveries")
}

func TestConsumerDeadLettersMalformedEntries(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	c := newConsumer(rdb, keys, "c1")
	require.NoError(t, c.EnsureGroup(t.Context()))
	require.NoError(t, rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: keys.Checks("eu"), Values: map[string]any{queue.JobField: "{not json"}}).Err())
	good := addJob(t, rdb, keys, testJob("w1"))
	ds, err := c.Read(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, good, ds[0].ID)
	n, err := rdb.XLen(t.Context(), keys.DeadLetter("eu")).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.EqualValues(t, 1, pendingCount(t, rdb, keys), "only the good job is pending")
}
