package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// TestConcurrentMigrations starts two migrations on an empty schema at once, as two api
// replicas do at boot: both succeed and the schema is migrated once.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.DefaultURL)
	require.NoError(t, err)
	var b [6]byte
	_, err = rand.Read(b[:])
	require.NoError(t, err)
	schema := "test_migrate_" + hex.EncodeToString(b[:])
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		require.NoError(t, err)
		require.NoError(t, admin.Close(context.Background()))
	})
	u, err := url.Parse(pgtest.DefaultURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	var g errgroup.Group
	for range 2 {
		g.Go(func() error { return postgres.MigrateURL(ctx, u.String()) })
	}
	require.NoError(t, g.Wait())

	var version int
	require.NoError(t, admin.QueryRow(ctx,
		"SELECT version FROM "+schema+"."+postgres.VersionTable).Scan(&version))
	require.GreaterOrEqual(t, version, 1)
	var tables int
	require.NoError(t, admin.QueryRow(ctx,
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'websites'",
		schema).Scan(&tables))
	require.Equal(t, 1, tables)
}
