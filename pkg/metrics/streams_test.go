package metrics_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(cmp.Or(os.Getenv("REDIS_URL"), "redis://127.0.0.1:6379/0"))
	require.NoError(t, err)
	c := redis.NewClient(opts)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	require.NoError(t, c.Ping(t.Context()).Err(), "Redis must run on this machine (scripts/stack up)")
	return c
}

// testKeys returns keys under a fresh prefix and deletes them when the test ends.
func testKeys(t *testing.T, c *redis.Client) queue.Keys {
	t.Helper()
	k := queue.Keys{Prefix: "test-" + rand.Text()}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		keys, err := c.Keys(ctx, k.Prefix+":*").Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, c.Del(ctx, keys...).Err())
		}
	})
	return k
}

func TestStreamCollector(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := redisClient(t)
	k := testKeys(t, c)

	// eu-west: 5 checks queued, a worker has read 2 and acknowledged 1; 1 dead letter.
	for range 5 {
		require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: k.Checks("eu-west"), Values: []any{"website_id", "x"}}).Err())
	}
	require.NoError(t, c.XGroupCreate(ctx, k.Checks("eu-west"), queue.Group, "0").Err())
	read, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: queue.Group, Consumer: "w1", Streams: []string{k.Checks("eu-west"), ">"}, Count: 2, Block: -1,
	}).Result()
	require.NoError(t, err)
	require.NoError(t, c.XAck(ctx, k.Checks("eu-west"), queue.Group, read[0].Messages[0].ID).Err())
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: k.DeadLetter("eu-west"), Values: []any{"website_id", "y"}}).Err())
	// us-east: 2 checks and no consumer group yet. ap-south: nothing at all.
	for range 2 {
		require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: k.Checks("us-east"), Values: []any{"website_id", "x"}}).Err())
	}
	// events: 3 transitions, one delivered and not acknowledged.
	for range 3 {
		require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: k.Events(), Values: []any{"website_id", "x"}}).Err())
	}
	require.NoError(t, c.XGroupCreate(ctx, k.Events(), queue.Group, "0").Err())
	require.NoError(t, c.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: queue.Group, Consumer: "n1", Streams: []string{k.Events(), ">"}, Count: 1, Block: -1,
	}).Err())

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewStreamCollector(metrics.StreamParams{
		Inspector: queue.NewInspector(c, k), Regions: metrics.StaticRegions("eu-west", "us-east", "ap-south"), Events: true, Log: discard(),
	}))
	fams, err := reg.Gather()
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		region string
		want   float64
	}{
		{"vigil_stream_length", "eu-west", 5},
		{"vigil_stream_pending", "eu-west", 1},
		{"vigil_stream_lag", "eu-west", 3},
		{"vigil_dead_letter_length", "eu-west", 1},
		{"vigil_stream_length", "us-east", 2},
		{"vigil_stream_pending", "us-east", 0},
		{"vigil_stream_lag", "us-east", 2},
		{"vigil_stream_length", "ap-south", 0},
		{"vigil_stream_pending", "ap-south", 0},
		{"vigil_stream_lag", "ap-south", 0},
		{"vigil_dead_letter_length", "ap-south", 0},
		{"vigil_events_length", "", 3},
		{"vigil_events_pending", "", 1},
		{"vigil_events_lag", "", 2},
		{"vigil_stream_scrape_success", "", 1},
	} {
		t.Run(tc.name+"/"+tc.region, func(t *testing.T) {
			var match map[string]string
			if tc.region != "" {
				match = map[string]string{"region": tc.region}
			}
			got, found := metrics.Sum(fams, tc.name, match)
			require.True(t, found)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestStreamCollectorRedisDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the scrape must report failure quickly and keep other metrics.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewStreamCollector(metrics.StreamParams{
		Inspector: queue.NewInspector(c, queue.Keys{Prefix: "test-down"}), Regions: metrics.StaticRegions("eu-west"), Log: discard(),
	}))
	fams, err := reg.Gather()
	require.NoError(t, err)
	got, found := metrics.Sum(fams, "vigil_stream_scrape_success", nil)
	require.True(t, found)
	require.Zero(t, got)
	_, found = metrics.Sum(fams, "vigil_stream_length", nil)
	require.False(t, found)
	_, found = metrics.Sum(fams, "go_goroutines", nil)
	require.True(t, found)
}

func TestStreamCollectorRegionsError(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewStreamCollector(metrics.StreamParams{
		Inspector: queue.NewInspector(redisClient(t), queue.Keys{Prefix: "test-regions"}), Log: discard(),
		Regions: func(context.Context) ([]string, error) { return nil, errors.New("postgres: down") },
	}))
	fams, err := reg.Gather()
	require.NoError(t, err)
	got, found := metrics.Sum(fams, "vigil_stream_scrape_success", nil)
	require.True(t, found)
	require.Zero(t, got)
}
