// Package postgres holds Vigil's PostgreSQL stores, one file per entity, on a pgxpool.Pool.
// Driver errors are translated here, at the edge: pgx.ErrNoRows becomes monitor.ErrNotFound and
// a unique violation becomes monitor.ErrConflict.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/vigil-monitor/vigil/store/migrations"
)

// VersionTable is tern's bookkeeping table.
const VersionTable = "schema_version"

// Migrate applies every embedded migration that the database lacks. tern holds a PostgreSQL
// advisory lock while it migrates, so many replicas can call Migrate at boot: one applies the
// migrations and the others wait, then find nothing left to do.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("postgres: migrator: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("postgres: load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// MigrateURL opens one connection to databaseURL, migrates and closes it.
func MigrateURL(ctx context.Context, databaseURL string) (err error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer func() {
		if cerr := conn.Close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: close migration connection: %w", cerr))
		}
	}()
	return Migrate(ctx, conn)
}
