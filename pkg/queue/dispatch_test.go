package queue_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/queue"
)

func dispatchJob(website string, due, deadline int64) queue.DispatchJob {
	return queue.DispatchJob{
		WebsiteID: website, DueAt: due, Deadline: deadline,
		Payload: []byte(`{"website_id":"` + website + `","due_at":` + strconv.FormatInt(due, 10) + `}`),
	}
}

func streamLen(t *testing.T, rdb redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := rdb.XLen(t.Context(), key).Result()
	require.NoError(t, err)
	return n
}

func TestDispatchCoalescesPendingPairs(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	ctx := t.Context()
	d := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys})
	const now = 1_000_000

	c, err := d.Dispatch(ctx, "eu", now, []queue.DispatchJob{
		dispatchJob("w1", now, now+30_000),
		dispatchJob("w2", now, now+30_000),
	})
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Dispatched: 2}, c)
	require.EqualValues(t, 2, streamLen(t, rdb, keys.Checks("eu")))

	// The next due time of w1 comes while its check is still pending: skipped and counted.
	c, err = d.Dispatch(ctx, "eu", now+10_000, []queue.DispatchJob{dispatchJob("w1", now+10_000, now+40_000)})
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Coalesced: 1}, c)
	require.EqualValues(t, 2, streamLen(t, rdb, keys.Checks("eu")))

	// The worker finishes (HDEL): the next due time goes out.
	require.NoError(t, rdb.HDel(ctx, keys.Pending("eu"), "w1").Err())
	c, err = d.Dispatch(ctx, "eu", now+20_000, []queue.DispatchJob{dispatchJob("w1", now+20_000, now+50_000)})
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Dispatched: 1}, c)

	// A marker whose deadline has passed (the worker died) no longer blocks the pair.
	c, err = d.Dispatch(ctx, "eu", now+60_000, []queue.DispatchJob{dispatchJob("w1", now+60_000, now+90_000)})
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Dispatched: 1}, c)

	entries, err := rdb.XRange(ctx, keys.Checks("eu"), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 4)
	require.Contains(t, entries[3].Values, queue.JobField)
	require.Len(t, entries[3].Values, 1)
	deadline, err := rdb.HGet(ctx, keys.Pending("eu"), "w1").Int64()
	require.NoError(t, err)
	require.EqualValues(t, now+90_000, deadline)
	last, err := rdb.HGet(ctx, keys.LastDue("eu"), "w1").Int64()
	require.NoError(t, err)
	require.EqualValues(t, now+60_000, last)
}

// TestDispatchFence is two schedulers (a split brain, or a new leader re-dispatching what the
// old one may have missed) dispatching the same due times: each goes out once.
func TestDispatchFence(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	ctx := t.Context()
	a := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys, Batch: 7})
	b := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys, Batch: 13})
	const now = 5_000_000
	var jobs []queue.DispatchJob
	for i := range 200 {
		jobs = append(jobs, dispatchJob("w"+strconv.Itoa(i), now, now+30_000))
	}

	var wg sync.WaitGroup
	counts := make([]queue.DispatchCounts, 2)
	for i, d := range []*queue.Dispatcher{a, b} {
		wg.Go(func() {
			c, err := d.Dispatch(ctx, "eu", now, jobs)
			require.NoError(t, err)
			counts[i] = c
		})
	}
	wg.Wait()
	require.Equal(t, 200, counts[0].Dispatched+counts[1].Dispatched)
	require.Equal(t, 200, counts[0].Coalesced+counts[1].Coalesced)
	require.EqualValues(t, 200, streamLen(t, rdb, keys.Checks("eu")))

	// With the pending markers gone (the checks finished) the fence alone stops a replay of
	// the same due time, and lets the next one through.
	require.NoError(t, rdb.Del(ctx, keys.Pending("eu")).Err())
	c, err := b.Dispatch(ctx, "eu", now+1000, jobs)
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Duplicates: 200}, c)
	c, err = b.Dispatch(ctx, "eu", now+1000, []queue.DispatchJob{dispatchJob("w1", now+1000, now+31_000)})
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Dispatched: 1}, c)
}

func TestDispatchRegionsAndMaxLen(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	ctx := t.Context()
	d := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys, MaxLen: 1000, Batch: 100})
	jobs := map[string][]queue.DispatchJob{}
	for i := range 5000 {
		jobs["eu"] = append(jobs["eu"], dispatchJob("e"+strconv.Itoa(i), 1, 100_000))
	}
	jobs["us"] = []queue.DispatchJob{dispatchJob("u1", 1, 100_000)}
	c, err := d.DispatchRegions(ctx, 10, jobs)
	require.NoError(t, err)
	require.Equal(t, queue.DispatchCounts{Dispatched: 5001}, c)
	require.EqualValues(t, 1, streamLen(t, rdb, keys.Checks("us")))
	// MAXLEN ~ trims whole macro nodes: about the bound, far below what was added.
	require.Less(t, streamLen(t, rdb, keys.Checks("eu")), int64(2000))
}

func TestPopDueRetries(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	ctx := t.Context()
	d := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys})
	now := time.UnixMilli(10_000_000)
	require.NoError(t, rdb.ZAdd(ctx, keys.Retry("eu"),
		redis.Z{Member: "w1", Score: float64(now.UnixMilli() - 5)},
		redis.Z{Member: "w2", Score: float64(now.UnixMilli())},
		redis.Z{Member: "w3", Score: float64(now.UnixMilli() + 1)},
	).Err())

	got, err := d.PopDueRetries(ctx, "eu", now, 1)
	require.NoError(t, err)
	require.Equal(t, []queue.DueRetry{{WebsiteID: "w1", DueAt: now.UnixMilli() - 5}}, got)
	got, err = d.PopDueRetries(ctx, "eu", now, 10)
	require.NoError(t, err)
	require.Equal(t, []queue.DueRetry{{WebsiteID: "w2", DueAt: now.UnixMilli()}}, got)
	got, err = d.PopDueRetries(ctx, "eu", now, 10)
	require.NoError(t, err)
	require.Empty(t, got)
	left, err := rdb.ZRange(ctx, keys.Retry("eu"), 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"w3"}, left)
}

func TestForget(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	ctx := t.Context()
	d := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys})
	_, err := d.Dispatch(ctx, "eu", 1, []queue.DispatchJob{dispatchJob("w1", 1, 100), dispatchJob("w2", 1, 100)})
	require.NoError(t, err)
	require.NoError(t, d.Forget(ctx, "eu", "w1"))
	pending, err := rdb.HKeys(ctx, keys.Pending("eu")).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"w2"}, pending)
	last, err := rdb.HKeys(ctx, keys.LastDue("eu")).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"w2"}, last)
}

// BenchmarkDispatcher is the capacity of the dispatch script alone, next to a baseline measured
// in the same run: the same payloads XADDed in a plain pipeline, with no coalescing or fence.
// The ratio is what the Lua decisions cost.
func BenchmarkDispatcher(b *testing.B) {
	const perRound = 20_000
	payload := make([]byte, 330) // about the size of a real job's JSON
	for i := range payload {
		payload[i] = 'x'
	}
	b.Run("script", func(b *testing.B) {
		rdb, keys := benchRedis(b)
		d := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys, MaxLen: 100_000})
		jobs := make([]queue.DispatchJob, perRound)
		now := int64(1_000_000)
		for b.Loop() {
			now += 10_000
			for i := range jobs {
				jobs[i] = queue.DispatchJob{WebsiteID: "w" + strconv.Itoa(i), DueAt: now, Deadline: now + 1, Payload: payload}
			}
			c, err := d.Dispatch(b.Context(), "eu", now, jobs)
			require.NoError(b, err)
			require.Equal(b, perRound, c.Dispatched)
		}
		b.ReportMetric(float64(b.N*perRound)/b.Elapsed().Seconds(), "jobs/s")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("baseline-xadd-pipeline", func(b *testing.B) {
		rdb, keys := benchRedis(b)
		for b.Loop() {
			_, err := rdb.Pipelined(b.Context(), func(p redis.Pipeliner) error {
				for range perRound {
					p.XAdd(b.Context(), &redis.XAddArgs{Stream: keys.Checks("eu"), MaxLen: 100_000, Approx: true,
						Values: []any{queue.JobField, payload}})
				}
				return nil
			})
			require.NoError(b, err)
		}
		b.ReportMetric(float64(b.N*perRound)/b.Elapsed().Seconds(), "jobs/s")
		b.ReportMetric(0, "ns/op")
	})
}

// benchRedis is testRedis for a benchmark.
func benchRedis(b *testing.B) (redis.UniversalClient, queue.Keys) {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	keys := queue.Keys{Prefix: fmt.Sprintf("bench-%d", time.Now().UnixNano())}
	b.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, keys.Prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			require.NoError(b, rdb.Del(ctx, iter.Val()).Err())
		}
		require.NoError(b, iter.Err())
		require.NoError(b, rdb.Close())
	})
	return rdb, keys
}
