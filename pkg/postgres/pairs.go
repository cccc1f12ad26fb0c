package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// PairWebsite is one website as the scheduler needs it: the fields a job carries and the names
// of the regions it is checked from. Regions of a website that follows all regions is a slice
// shared by every such website of one load, so callers must not modify it.
type PairWebsite struct {
	monitor.Website
	// UUID is ID in binary form, so that a scheduler holding a million of them can key its
	// index on 16 bytes instead of a 36-byte string.
	UUID [16]byte
}

// PairStore reads the (website, region) pairs that the scheduler dispatches. It streams rows to
// a callback instead of returning slices, because a full load is a million rows and the
// scheduler keeps its own compact copy: an intermediate []Website would double the peak memory.
type PairStore struct {
	pool *pgxpool.Pool
}

// NewPairStore returns a PairStore on pool.
func NewPairStore(pool *pgxpool.Pool) *PairStore {
	return &PairStore{pool: pool}
}

// pairColumns are the job fields of a website plus its explicit region names (NULL when it
// follows all regions). The explicit lists come from one grouped join, which PostgreSQL runs as
// a single hash aggregate, not a subquery per website.
const pairColumns = `w.id, w.url, w.method, w.headers, w.body, w.interval_seconds, w.timeout_ms,
	w.slow_ms, w.expected_status, w.keyword, w.confirmations_down, w.confirmations_up,
	w.retry_interval_seconds, w.enabled, w.all_regions, x.names`

const pairFrom = ` FROM websites w LEFT JOIN (
		SELECT wr.website_id, array_agg(r.name) AS names
		FROM website_regions wr JOIN regions r ON r.id = wr.region_id
		GROUP BY wr.website_id
	) x ON x.website_id = w.id AND NOT w.all_regions`

// pairFromOne is pairFrom for a few websites: the correlated subquery reads only their rows.
const pairFromOne = ` FROM websites w LEFT JOIN LATERAL (
		SELECT array_agg(r.name) AS names
		FROM website_regions wr JOIN regions r ON r.id = wr.region_id
		WHERE wr.website_id = w.id
	) x ON NOT w.all_regions`

// Each calls fn for every enabled website, in no particular order, from one consistent
// snapshot. fn gets a pointer to a value that is reused for the next row: it must copy what it
// keeps. An error from fn stops the scan and is returned.
func (s *PairStore) Each(ctx context.Context, fn func(*PairWebsite) error) error {
	err := s.snapshot(ctx, func(tx pgx.Tx, all []string) error {
		rows, err := tx.Query(ctx, `SELECT `+pairColumns+pairFrom+` WHERE w.enabled`)
		if err != nil {
			return err
		}
		return scanPairs(rows, all, fn)
	})
	if err != nil {
		return fmt.Errorf("postgres: load pairs: %w", err)
	}
	return nil
}

// EachByID calls fn for each of the websites ids that exist, enabled or not (Enabled tells), so
// that the caller can apply a NOTIFY: an id that fn never sees was deleted. Ids that are not
// UUIDs name nothing and are skipped.
func (s *PairStore) EachByID(ctx context.Context, ids []string, fn func(*PairWebsite) error) error {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, err := uuid.Parse(id); err == nil {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return nil
	}
	err := s.snapshot(ctx, func(tx pgx.Tx, all []string) error {
		rows, err := tx.Query(ctx, `SELECT `+pairColumns+pairFromOne+` WHERE w.id = ANY($1::uuid[])`, valid)
		if err != nil {
			return err
		}
		return scanPairs(rows, all, fn)
	})
	if err != nil {
		return fmt.Errorf("postgres: load pairs of %d websites: %w", len(valid), err)
	}
	return nil
}

// PairWebsiteByID returns one website, enabled or not, or monitor.ErrNotFound.
func (s *PairStore) PairWebsiteByID(ctx context.Context, id string) (PairWebsite, error) {
	var out PairWebsite
	found := false
	err := s.EachByID(ctx, []string{id}, func(w *PairWebsite) error {
		out, found = *w, true
		return nil
	})
	if err != nil {
		return PairWebsite{}, err
	}
	if !found {
		return PairWebsite{}, fmt.Errorf("postgres: website %s: %w", id, monitor.ErrNotFound)
	}
	return out, nil
}

// snapshot runs fn in a read-only REPEATABLE READ transaction, so that the region list and the
// websites come from the same moment, and hands it the names of every region.
func (s *PairStore) snapshot(ctx context.Context, fn func(tx pgx.Tx, all []string) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT name FROM regions ORDER BY name`)
			if err != nil {
				return err
			}
			all, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("regions: %w", err)
			}
			return fn(tx, all)
		})
}

func scanPairs(rows pgx.Rows, all []string, fn func(*PairWebsite) error) error {
	defer rows.Close()
	var (
		w          PairWebsite
		headers    []byte
		allRegions bool
		names      []string
	)
	for rows.Next() {
		names = nil
		err := rows.Scan(&w.UUID, &w.URL, &w.Method, &headers, &w.Body, &w.IntervalSeconds,
			&w.TimeoutMS, &w.SlowMS, &w.ExpectedStatus, &w.Keyword, &w.ConfirmationsDown,
			&w.ConfirmationsUp, &w.RetryIntervalSeconds, &w.Enabled, &allRegions, &names)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		w.ID = uuid.UUID(w.UUID).String()
		w.Headers = nil
		if len(headers) > 2 { // "{}" is the common case and needs no decoding
			if err := json.Unmarshal(headers, &w.Headers); err != nil {
				return fmt.Errorf("website %s: headers: %w", w.ID, err)
			}
		}
		w.Regions = names
		if allRegions {
			w.Regions = all
		}
		if err := fn(&w); err != nil {
			return err
		}
	}
	return rows.Err()
}
