package scheduler

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// A check stream left by a region that PostgreSQL no longer has (deleted while Redis was down,
// or by hand) is removed, with its markers, when the scheduler starts, and the removal is
// logged; the streams of existing regions stay.
func TestStartupSweepsOrphanedRegions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu")
	for _, region := range []string{"eu", "gone"} {
		require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Checks(region),
			Values: []any{queue.JobField, `{"headers":{"Authorization":"Bearer hunter2"}}`}}).Err())
		require.NoError(t, rdb.XGroupCreate(ctx, keys.Checks(region), queue.Group, "0").Err())
	}
	// A worker started for a region not created yet: an empty stream with its group.
	require.NoError(t, rdb.XGroupCreateMkStream(ctx, keys.Checks("soon"), queue.Group, "0").Err())
	require.NoError(t, rdb.HSet(ctx, keys.LastDue("gone"), "w1", "1").Err())
	require.NoError(t, rdb.ZAdd(ctx, keys.Retry("gone"), redis.Z{Score: 1, Member: "w1"}).Err())

	var logs logtest.Buffer
	s := newTestScheduler(t, pool.Config().ConnString(), rdb, keys, "a", func(p *Params) {
		p.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	start(t, s)

	require.Eventually(t, func() bool {
		n, err := rdb.Exists(ctx, keys.Checks("gone"), keys.LastDue("gone"), keys.Retry("gone")).Result()
		return err == nil && n == 0
	}, 10*time.Second, 20*time.Millisecond, "the deleted region's stream and markers are removed")
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), `"region":"gone","keys":3`)
	}, 10*time.Second, 20*time.Millisecond, "the removal is logged:\n%s", logs.String())
	require.EqualValues(t, 1, streamLenOf(t, rdb, keys.Checks("eu")), "an existing region's stream stays")
	groups, err := rdb.XInfoGroups(ctx, keys.Checks("soon")).Result()
	require.NoError(t, err, "a waiting worker's empty stream stays")
	require.Len(t, groups, 1, "with its group")
	require.NotContains(t, logs.String(), `"region":"soon"`)
	require.NotContains(t, logs.String(), "hunter2")
}

func streamLenOf(t *testing.T, rdb redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := rdb.XLen(t.Context(), key).Result()
	require.NoError(t, err)
	return n
}
