package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Downtime is one period during which a (website, region) pair was confirmed down. EndedAt is
// nil while it lasts; DurationSeconds then runs to the end of the queried range.
type Downtime struct {
	ID              string        `json:"id"`
	WebsiteID       string        `json:"website_id"`
	Region          string        `json:"region"`
	IncidentID      *string       `json:"incident_id"`
	StartedAt       time.Time     `json:"started_at"`
	EndedAt         *time.Time    `json:"ended_at"`
	DurationSeconds int64         `json:"duration_seconds"`
	Cause           monitor.Cause `json:"cause"`
	ResponseMS      int64         `json:"response_ms"`
}

// downtimeColumns reads a Downtime; $1 is the instant that ends an open period's duration.
const downtimeColumns = `d.id, d.website_id, d.region, d.incident_id, d.started_at, d.ended_at,
	floor(extract(epoch FROM (coalesce(d.ended_at, greatest($1::timestamptz, d.started_at)) - d.started_at)))::bigint,
	d.outcome, d.reason, d.message, d.status_code, d.response_ms`

func scanDowntime(row pgx.CollectableRow) (Downtime, error) {
	var d Downtime
	err := row.Scan(&d.ID, &d.WebsiteID, &d.Region, &d.IncidentID, &d.StartedAt, &d.EndedAt,
		&d.DurationSeconds, &d.Cause.Outcome, &d.Cause.Reason, &d.Cause.Message, &d.Cause.StatusCode,
		&d.ResponseMS)
	return d, err
}

// OpenRegionDowntime starts a downtime period for the transition's pair, unless one is open. Its
// cause is the transition's first failing check, which is also when the period starts.
func OpenRegionDowntime(ctx context.Context, tx pgx.Tx, t monitor.Transition) error {
	c := t.Cause()
	_, err := tx.Exec(ctx, `
		INSERT INTO region_downtimes (website_id, region, started_at, outcome, reason, message, status_code, response_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (website_id, region) WHERE ended_at IS NULL DO NOTHING`,
		t.WebsiteID, t.Region, t.At, string(c.Outcome), c.Reason, c.Message, c.StatusCode, t.ResponseMS)
	if err != nil {
		return fmt.Errorf("postgres: open downtime %s/%s: %w", t.WebsiteID, t.Region, translate(err))
	}
	return nil
}

// CloseRegionDowntime ends the pair's open downtime period, if any, at at (never before it
// started, whatever order the events arrived in).
func CloseRegionDowntime(ctx context.Context, tx pgx.Tx, websiteID, region string, at time.Time) error {
	_, err := tx.Exec(ctx, `
		UPDATE region_downtimes SET ended_at = greatest($3::timestamptz, started_at)
		WHERE website_id = $1 AND region = $2 AND ended_at IS NULL`, websiteID, region, at)
	if err != nil {
		return fmt.Errorf("postgres: close downtime %s/%s: %w", websiteID, region, translate(err))
	}
	return nil
}

// OpenRegionDowntimes returns a website's open downtime periods, the earliest first; the first
// one's cause is the cause of an incident that opens now.
func OpenRegionDowntimes(ctx context.Context, tx pgx.Tx, websiteID string, now time.Time) ([]Downtime, error) {
	rows, err := tx.Query(ctx, `SELECT `+downtimeColumns+` FROM region_downtimes d
		WHERE d.website_id = $2 AND d.ended_at IS NULL ORDER BY d.started_at, d.region`, now, websiteID)
	if err != nil {
		return nil, fmt.Errorf("postgres: open downtimes of %s: %w", websiteID, err)
	}
	ds, err := pgx.CollectRows(rows, scanDowntime)
	if err != nil {
		return nil, fmt.Errorf("postgres: open downtimes of %s: %w", websiteID, err)
	}
	return ds, nil
}

// AttachRegionDowntimes links the website's open downtime periods to its incident, so that an
// incident can list the regional periods behind it.
func AttachRegionDowntimes(ctx context.Context, tx pgx.Tx, websiteID, incidentID string) error {
	_, err := tx.Exec(ctx, `UPDATE region_downtimes SET incident_id = $2
		WHERE website_id = $1 AND ended_at IS NULL AND incident_id IS NULL`, websiteID, incidentID)
	if err != nil {
		return fmt.Errorf("postgres: attach downtimes of %s: %w", websiteID, err)
	}
	return nil
}

// DowntimeFilter selects the downtime periods of one website that overlap [From, To].
type DowntimeFilter struct {
	WebsiteID string
	// Region, when set, keeps one region's periods.
	Region string
	From   time.Time
	// To ends the range and the duration of periods still open; zero means now.
	To time.Time
}

// MaxDowntimes bounds how many periods one query returns, so that a flapping site cannot make
// one request read without limit.
const MaxDowntimes = 5000

// DowntimeStore answers the API's questions about downtime periods.
type DowntimeStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewDowntimeStore returns a DowntimeStore on pool.
func NewDowntimeStore(pool *pgxpool.Pool) *DowntimeStore {
	return &DowntimeStore{pool: pool, now: time.Now}
}

func (s *DowntimeStore) where(f DowntimeFilter) (string, []any, time.Time) {
	to := f.To
	if to.IsZero() {
		to = s.now()
	}
	args := []any{to, f.WebsiteID, f.From}
	q := ` FROM region_downtimes d WHERE d.website_id = $2
		AND d.started_at <= $1 AND (d.ended_at IS NULL OR d.ended_at >= $3)`
	if f.Region != "" {
		args = append(args, f.Region)
		q += ` AND d.region = $4`
	}
	return q, args, to
}

// List returns the periods that overlap the range, the earliest first (at most MaxDowntimes).
// A website that does not exist has none; the API checks existence itself.
func (s *DowntimeStore) List(ctx context.Context, f DowntimeFilter) ([]Downtime, error) {
	if !validID(f.WebsiteID) {
		return []Downtime{}, nil
	}
	where, args, _ := s.where(f)
	rows, err := s.pool.Query(ctx, `SELECT `+downtimeColumns+where+
		fmt.Sprintf(` ORDER BY d.started_at, d.region LIMIT %d`, MaxDowntimes), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list downtimes of %s: %w", f.WebsiteID, err)
	}
	ds, err := pgx.CollectRows(rows, scanDowntime)
	if err != nil {
		return nil, fmt.Errorf("postgres: list downtimes of %s: %w", f.WebsiteID, err)
	}
	return ds, nil
}

// Latest returns the most recent period that overlaps the range, or monitor.ErrNotFound.
func (s *DowntimeStore) Latest(ctx context.Context, f DowntimeFilter) (Downtime, error) {
	if !validID(f.WebsiteID) {
		return Downtime{}, monitor.ErrNotFound
	}
	where, args, _ := s.where(f)
	rows, err := s.pool.Query(ctx, `SELECT `+downtimeColumns+where+
		` ORDER BY d.started_at DESC, d.region LIMIT 1`, args...)
	if err != nil {
		return Downtime{}, fmt.Errorf("postgres: latest downtime of %s: %w", f.WebsiteID, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDowntime)
	if err != nil {
		return Downtime{}, fmt.Errorf("postgres: latest downtime of %s: %w", f.WebsiteID, translate(err))
	}
	return d, nil
}

// LastDowntimes returns, for each of the websites that has one, its most recent downtime period
// in any region: what GET /monitor shows as the time since the last downtime.
func (s *DowntimeStore) LastDowntimes(ctx context.Context, websiteIDs []string) (map[string]Downtime, error) {
	ids := make([]string, 0, len(websiteIDs))
	for _, id := range websiteIDs {
		if validID(id) {
			ids = append(ids, id)
		}
	}
	out := make(map[string]Downtime, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+downtimeColumns+` FROM unnest($2::uuid[]) AS w(id)
		CROSS JOIN LATERAL (SELECT * FROM region_downtimes x WHERE x.website_id = w.id
			ORDER BY x.started_at DESC LIMIT 1) d`, s.now(), ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: last downtimes: %w", err)
	}
	ds, err := pgx.CollectRows(rows, scanDowntime)
	if err != nil {
		return nil, fmt.Errorf("postgres: last downtimes: %w", err)
	}
	for _, d := range ds {
		out[d.WebsiteID] = d
	}
	return out, nil
}
