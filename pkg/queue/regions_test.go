package queue_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/queue"
)

// fillRegion gives region every kind of key Vigil keeps for one: a check stream (with a job
// that carries a credential) and its group, a dead letter, pending and last-dispatched
// markers, a retry and the state hashes of three pairs.
func fillRegion(t *testing.T, rdb redis.UniversalClient, keys queue.Keys, region string) {
	t.Helper()
	ctx := t.Context()
	job := queue.DispatchJob{WebsiteID: "w1", DueAt: 1000, Deadline: 1_000_000_000_000_000,
		Payload: []byte(`{"website_id":"w1","headers":{"Authorization":"Bearer hunter2"}}`)}
	_, err := queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys}).Dispatch(ctx, region, 1000, []queue.DispatchJob{job})
	require.NoError(t, err)
	require.NoError(t, queue.NewConsumer(rdb, queue.ConsumerParams{Keys: keys, Region: region, Name: "c1"}).EnsureGroup(ctx))
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.DeadLetter(region), Values: []any{"job", "{}"}}).Err())
	require.NoError(t, rdb.ZAdd(ctx, keys.Retry(region), redis.Z{Score: 1, Member: "w1"}).Err())
	for _, w := range []string{"w1", "w2", "w3"} {
		require.NoError(t, rdb.HSet(ctx, keys.State(region, w), "state", "up").Err())
	}
}

func allKeys(t *testing.T, rdb redis.UniversalClient, keys queue.Keys) []string {
	t.Helper()
	var out []string
	iter := rdb.Scan(t.Context(), 0, keys.Prefix+":*", 1000).Iterator()
	for iter.Next(t.Context()) {
		out = append(out, iter.Val())
	}
	require.NoError(t, iter.Err())
	slices.Sort(out)
	return out
}

// Deleting a region removes every key it had (its queued jobs carry credentials) and nothing of
// another region, even one whose name starts with the deleted one's.
func TestRegionKeysDrop(t *testing.T) {
	t.Parallel()
	rdb, keys := testRedis(t)
	ctx := t.Context()
	fillRegion(t, rdb, keys, "eu")
	fillRegion(t, rdb, keys, "eu-west")
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events(), Values: []any{"e", "1"}}).Err())
	before := allKeys(t, rdb, keys)

	rk := queue.NewRegionKeys(rdb, keys)
	regions, err := rk.Regions(ctx)
	require.NoError(t, err)
	slices.Sort(regions)
	require.Equal(t, []string{"eu", "eu-west"}, regions)

	n, err := rk.Drop(ctx, "eu")
	require.NoError(t, err)
	require.Equal(t, 8, n, "check and dead-letter streams, pending, last-due, retry and three state hashes")

	after := allKeys(t, rdb, keys)
	for _, k := range after {
		require.NotContains(t, k, ":eu:", "a key of the deleted region is left")
		require.False(t, strings.HasSuffix(k, ":eu"), "a key of the deleted region is left: %s", k)
	}
	require.Len(t, after, len(before)-8)
	require.Contains(t, after, keys.Checks("eu-west"))
	require.Contains(t, after, keys.Events())
	groups, err := rdb.XInfoGroups(ctx, keys.Checks("eu-west")).Result()
	require.NoError(t, err)
	require.Len(t, groups, 1, "the other region's group is untouched")

	regions, err = rk.Regions(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"eu-west"}, regions)

	n, err = rk.Drop(ctx, "eu")
	require.NoError(t, err)
	require.Zero(t, n, "dropping again is a no-op")
}
