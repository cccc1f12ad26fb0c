// Package redistest gives each test a key prefix of its own on the real local Redis, and
// removes every key under it when the test ends, as pgtest does with PostgreSQL schemas. Tests
// of streams run against the real Redis, not an imitation: miniredis differs on streams.
package redistest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/queue"
)

// Addr is the local stack's Redis; VIGIL_TEST_REDIS_ADDR overrides it.
func Addr() string { return cmp.Or(os.Getenv("VIGIL_TEST_REDIS_ADDR"), "127.0.0.1:6379") }

// New returns a client (with ContextTimeoutEnabled, as the binaries use) and keys under a new
// prefix. Both are cleaned up when the test ends.
func New(t testing.TB) (*redis.Client, queue.Keys) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: Addr(), ContextTimeoutEnabled: true})
	keys := Keys(t)
	t.Cleanup(func() { require.NoError(t, rdb.Close()) })
	return rdb, keys
}

// Keys returns keys under a new prefix whose keys are removed when the test ends, for tests
// that hand the prefix to a binary (VIGIL_REDIS_PREFIX) rather than use a client themselves.
func Keys(t testing.TB) queue.Keys {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	keys := queue.Keys{Prefix: "test-" + hex.EncodeToString(b[:])}
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: Addr()})
		defer func() { require.NoError(t, rdb.Close()) }()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, keys.Prefix+":*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				require.NoError(t, rdb.Unlink(ctx, batch...).Err())
				batch = batch[:0]
			}
		}
		require.NoError(t, iter.Err())
		if len(batch) > 0 {
			require.NoError(t, rdb.Unlink(ctx, batch...).Err())
		}
	})
	return keys
}
