package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// RegionStore keeps the regions that workers check from. Every change is announced on
// MonitorsChannel with NotifyAll, because websites that follow all regions change with it.
type RegionStore struct {
	pool *pgxpool.Pool
}

// NewRegionStore returns a RegionStore on pool.
func NewRegionStore(pool *pgxpool.Pool) *RegionStore {
	return &RegionStore{pool: pool}
}

const regionColumns = `id, name, created_at, updated_at`

func scanRegion(row pgx.Row) (monitor.Region, error) {
	var r monitor.Region
	err := row.Scan(&r.ID, &r.Name, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

// Create adds a region. A name that is taken is monitor.ErrConflict.
func (s *RegionStore) Create(ctx context.Context, name string) (monitor.Region, error) {
	r, err := s.write(ctx, `INSERT INTO regions (name) VALUES ($1)`, name)
	if err != nil {
		return monitor.Region{}, fmt.Errorf("postgres: create region %q: %w", name, err)
	}
	return r, nil
}

// write runs an INSERT or UPDATE of one region and tells the scheduler, whose pairs follow
// region names, in one transaction; it returns the row as written.
func (s *RegionStore) write(ctx context.Context, sql string, args ...any) (monitor.Region, error) {
	var r monitor.Region
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if r, err = scanRegion(tx.QueryRow(ctx, sql+` RETURNING `+regionColumns, args...)); err != nil {
			return translate(err)
		}
		return notifyMonitors(ctx, tx, NotifyAll)
	})
	return r, err
}

// Get returns one region.
func (s *RegionStore) Get(ctx context.Context, id string) (monitor.Region, error) {
	if !validID(id) {
		return monitor.Region{}, fmt.Errorf("postgres: get region %q: %w", id, monitor.ErrNotFound)
	}
	r, err := scanRegion(s.pool.QueryRow(ctx, `SELECT `+regionColumns+` FROM regions WHERE id = $1`, id))
	if err != nil {
		return monitor.Region{}, fmt.Errorf("postgres: get region %s: %w", id, translate(err))
	}
	return r, nil
}

// List returns one page of regions in creation order, and the cursor of the next page (nil at
// the end).
func (s *RegionStore) List(ctx context.Context, p ListParams) ([]monitor.Region, *Cursor, error) {
	return createdList[monitor.Region]{
		what: "regions", from: `SELECT ` + regionColumns + ` FROM regions`,
		match: []string{"name"}, scan: scanRegion,
		key: func(r monitor.Region) Cursor { return Cursor{CreatedAt: r.CreatedAt, ID: r.ID} },
	}.page(ctx, s.pool, p)
}

// Names returns the name of every region, for the scheduler's sweep of Redis keys left by
// deleted regions. Regions are few, so they are read in one query.
func (s *RegionStore) Names(ctx context.Context) ([]string, error) {
	names, err := collectStrings(ctx, s.pool, `SELECT name FROM regions`)
	if err != nil {
		return nil, fmt.Errorf("postgres: region names: %w", err)
	}
	return names, nil
}

// Rename changes a region's name. A name that is taken is monitor.ErrConflict.
func (s *RegionStore) Rename(ctx context.Context, id, name string) (monitor.Region, error) {
	if !validID(id) {
		return monitor.Region{}, fmt.Errorf("postgres: rename region %q: %w", id, monitor.ErrNotFound)
	}
	r, err := s.write(ctx, `UPDATE regions SET name = $2, updated_at = now() WHERE id = $1`, id, name)
	if err != nil {
		return monitor.Region{}, fmt.Errorf("postgres: rename region %s: %w", id, err)
	}
	return r, nil
}

// RegionInUseError is the monitor.ErrConflict of deleting a region that websites list by
// name, without force.
type RegionInUseError struct {
	Websites int
}

func (e *RegionInUseError) Error() string {
	return fmt.Sprintf("region is used by %d website(s)", e.Websites)
}

// Is makes a RegionInUseError a monitor.ErrConflict.
func (e *RegionInUseError) Is(target error) bool { return target == monitor.ErrConflict }

// Delete removes a region. If websites list it explicitly, Delete refuses with a
// *RegionInUseError unless force is set, in which case they lose it (websites that follow all
// regions simply stop using it).
func (s *RegionStore) Delete(ctx context.Context, id string, force bool) error {
	if !validID(id) {
		return fmt.Errorf("postgres: delete region %q: %w", id, monitor.ErrNotFound)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR UPDATE conflicts with the key-share lock that a new website_regions row takes on
		// its region, so no website can start using the region between the count and the delete.
		var found string
		if err := tx.QueryRow(ctx, `SELECT id FROM regions WHERE id = $1 FOR UPDATE`, id).Scan(&found); err != nil {
			return translate(err)
		}
		if !force {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM website_regions WHERE region_id = $1`, id).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return &RegionInUseError{Websites: n}
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM regions WHERE id = $1`, id); err != nil {
			return translate(err)
		}
		return notifyMonitors(ctx, tx, NotifyAll)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete region %s: %w", id, err)
	}
	return nil
}
