package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func TestAPIKeyStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	keys := postgres.NewAPIKeyStore(pool)

	k, plain, err := keys.Create(ctx, "ci")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(plain, postgres.KeyPrefix))
	require.Greater(t, len(plain), 40)
	require.True(t, strings.HasPrefix(plain, k.Prefix))
	require.Nil(t, k.LastUsedAt)

	var stored []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT hash FROM api_keys WHERE id = $1`, k.ID).Scan(&stored))
	require.Equal(t, postgres.HashKey(plain), stored)
	var plainStored int
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT count(*) FROM api_keys WHERE position($1 in encode(hash, 'escape') || name || prefix) > 0`,
		plain).Scan(&plainStored))
	require.Zero(t, plainStored, "the plaintext is stored nowhere")

	got, err := keys.Authenticate(ctx, plain)
	require.NoError(t, err)
	require.Equal(t, k.ID, got.ID)
	var lastUsed *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys WHERE id = $1`, k.ID).Scan(&lastUsed))
	require.NotNil(t, lastUsed, "use is recorded")
	_, err = keys.Authenticate(ctx, plain)
	require.NoError(t, err)
	var again *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys WHERE id = $1`, k.ID).Scan(&again))
	require.Equal(t, *lastUsed, *again, "a second use within the minute writes nothing")

	_, err = keys.Authenticate(ctx, plain+"x")
	require.ErrorIs(t, err, monitor.ErrNotFound)
	_, err = keys.Authenticate(ctx, "")
	require.ErrorIs(t, err, monitor.ErrNotFound)

	list, err := keys.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "ci", list[0].Name)

	require.NoError(t, keys.Revoke(ctx, k.ID))
	require.NoError(t, keys.Revoke(ctx, k.ID), "revoking twice is fine")
	_, err = keys.Authenticate(ctx, plain)
	require.ErrorIs(t, err, monitor.ErrNotFound)
	require.ErrorIs(t, keys.Revoke(ctx, "00000000-0000-0000-0000-000000000000"), monitor.ErrNotFound)
	require.ErrorIs(t, keys.Revoke(ctx, "nope"), monitor.ErrNotFound)
}

func TestAPIKeyEnsure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	keys := postgres.NewAPIKeyStore(pool)

	const plain = "local-dev-key"
	first, err := keys.Ensure(ctx, "env", plain)
	require.NoError(t, err)
	second, err := keys.Ensure(ctx, "env", plain)
	require.NoError(t, err)
	require.Equal(t, first.ID, second.ID, "seeding is idempotent")
	list, err := keys.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)

	got, err := keys.Authenticate(ctx, plain)
	require.NoError(t, err)
	require.Equal(t, first.ID, got.ID)

	require.NoError(t, keys.Revoke(ctx, first.ID))
	_, err = keys.Ensure(ctx, "env", plain)
	require.NoError(t, err)
	_, err = keys.Authenticate(ctx, plain)
	require.ErrorIs(t, err, monitor.ErrNotFound, "seeding does not bring a revoked key back")

	_, err = keys.Ensure(ctx, "env", " ")
	require.Error(t, err)
}
