// Package pgtest gives each test its own migrated PostgreSQL schema on the real server, so that
// tests run in parallel without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// DefaultURL is the local stack's database; VIGIL_TEST_DATABASE_URL overrides it.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/vigil?sslmode=disable"

// URL returns a connection URL whose search_path is a new, migrated schema that is dropped when
// the test ends. Processes started by the test (an api, a scheduler) can be given this URL.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("VIGIL_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultURL
	}
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	schema := "test_" + hex.EncodeToString(b[:])

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err, "pgtest: connect to %s (is the stack up? scripts/stack up)", base)
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		if err != nil {
			t.Logf("pgtest: drop schema %s: %v", schema, err)
		}
		require.NoError(t, admin.Close(context.Background()))
	})

	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	require.NoError(t, postgres.MigrateURL(ctx, u.String()))
	return u.String()
}

// Pool returns a pool on a new migrated schema (see URL), closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), URL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
