package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// incidentColumns reads an Incident; $1 is the instant that ends an open incident's duration.
const incidentColumns = `i.id, i.website_id, w.name, i.started_at, i.ended_at,
	floor(extract(epoch FROM (coalesce(i.ended_at, greatest($1::timestamptz, i.started_at)) - i.started_at)))::bigint,
	i.outcome, i.reason, i.message, i.status_code, i.regions`

const incidentFrom = ` FROM incidents i JOIN websites w ON w.id = i.website_id`

func scanIncident(row pgx.Row) (monitor.Incident, error) {
	var i monitor.Incident
	err := row.Scan(&i.ID, &i.WebsiteID, &i.WebsiteName, &i.StartedAt, &i.EndedAt, &i.DurationSeconds,
		&i.Cause.Outcome, &i.Cause.Reason, &i.Cause.Message, &i.Cause.StatusCode, &i.Regions)
	return i, err
}

// OpenIncidentOf returns the website's open incident, or monitor.ErrNotFound.
func OpenIncidentOf(ctx context.Context, tx pgx.Tx, websiteID string, now time.Time) (monitor.Incident, error) {
	inc, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+incidentFrom+`
		WHERE i.website_id = $2 AND i.ended_at IS NULL`, now, websiteID))
	if err != nil {
		return monitor.Incident{}, fmt.Errorf("postgres: open incident of %s: %w", websiteID, translate(err))
	}
	return inc, nil
}

// InsertIncident opens an incident and returns it with its id. The partial unique index on open
// incidents makes a second open incident for the website a monitor.ErrConflict.
func InsertIncident(ctx context.Context, tx pgx.Tx, inc monitor.Incident) (monitor.Incident, error) {
	err := tx.QueryRow(ctx, `
		INSERT INTO incidents (website_id, started_at, outcome, reason, message, status_code, regions)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		inc.WebsiteID, inc.StartedAt, string(inc.Cause.Outcome), inc.Cause.Reason, inc.Cause.Message,
		inc.Cause.StatusCode, nonNil(inc.Regions)).Scan(&inc.ID)
	if err != nil {
		return monitor.Incident{}, fmt.Errorf("postgres: open incident of %s: %w", inc.WebsiteID, translate(err))
	}
	return inc, nil
}

// AddIncidentRegions records more affected regions on an open incident, keeping the order in
// which they went down.
func AddIncidentRegions(ctx context.Context, tx pgx.Tx, incidentID string, regions []string) error {
	_, err := tx.Exec(ctx, `
		UPDATE incidents SET regions = regions || ARRAY(
			SELECT r FROM unnest($2::text[]) WITH ORDINALITY AS n(r, o)
			WHERE r <> ALL (regions) ORDER BY o)
		WHERE id = $1`, incidentID, nonNil(regions))
	if err != nil {
		return fmt.Errorf("postgres: add regions to incident %s: %w", incidentID, err)
	}
	return nil
}

// CloseIncident resolves an open incident at at (never before it started).
func CloseIncident(ctx context.Context, tx pgx.Tx, incidentID string, at time.Time) (time.Time, error) {
	var ended time.Time
	err := tx.QueryRow(ctx, `UPDATE incidents SET ended_at = greatest($2::timestamptz, started_at)
		WHERE id = $1 AND ended_at IS NULL RETURNING ended_at`, incidentID, at).Scan(&ended)
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: close incident %s: %w", incidentID, translate(err))
	}
	return ended, nil
}

// Incident states for IncidentFilter.
const (
	IncidentsOpen     = "open"
	IncidentsResolved = "resolved"
)

// IncidentFilter narrows the incident list.
type IncidentFilter struct {
	// State is IncidentsOpen, IncidentsResolved or empty for both.
	State string
	// WebsiteID, when set, keeps one website's incidents.
	WebsiteID string
}

// IncidentStore answers the API's questions about incidents.
type IncidentStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewIncidentStore returns an IncidentStore on pool.
func NewIncidentStore(pool *pgxpool.Pool) *IncidentStore {
	return &IncidentStore{pool: pool, now: time.Now}
}

// List returns one page of incidents, the most recent first, and the cursor of the next page
// (nil at the end). For incidents the cursor's CreatedAt holds the last row's started_at, and
// pages run backwards in time. p.Query is ignored.
func (s *IncidentStore) List(ctx context.Context, f IncidentFilter, p ListParams) ([]monitor.Incident, *Cursor, error) {
	if f.WebsiteID != "" && !validID(f.WebsiteID) {
		return []monitor.Incident{}, nil, nil
	}
	l := createdList[monitor.Incident]{
		what: "incidents", from: `SELECT ` + incidentColumns + incidentFrom, alias: "i.",
		args: []any{s.now()}, at: "started_at", newest: true, scan: scanIncident,
		key: func(i monitor.Incident) Cursor { return Cursor{CreatedAt: i.StartedAt, ID: i.ID} },
	}
	switch f.State {
	case IncidentsOpen:
		l.where = append(l.where, `i.ended_at IS NULL`)
	case IncidentsResolved:
		l.where = append(l.where, `i.ended_at IS NOT NULL`)
	case "":
	default:
		return nil, nil, &FieldError{Field: "state", Message: "must be open or resolved"}
	}
	if f.WebsiteID != "" {
		l.args = append(l.args, f.WebsiteID)
		l.where = append(l.where, fmt.Sprintf(`i.website_id = $%d`, len(l.args)))
	}
	return l.page(ctx, s.pool, p)
}

// Get returns one incident with the regional downtime periods behind it.
func (s *IncidentStore) Get(ctx context.Context, id string) (monitor.Incident, []Downtime, error) {
	if !validID(id) {
		return monitor.Incident{}, nil, fmt.Errorf("postgres: get incident %q: %w", id, monitor.ErrNotFound)
	}
	now := s.now()
	inc, err := scanIncident(s.pool.QueryRow(ctx, `SELECT `+incidentColumns+incidentFrom+` WHERE i.id = $2`, now, id))
	if err != nil {
		return monitor.Incident{}, nil, fmt.Errorf("postgres: get incident %s: %w", id, translate(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+downtimeColumns+` FROM region_downtimes d
		WHERE d.incident_id = $2 ORDER BY d.started_at, d.region`, now, id)
	if err != nil {
		return monitor.Incident{}, nil, fmt.Errorf("postgres: downtimes of incident %s: %w", id, err)
	}
	ds, err := pgx.CollectRows(rows, scanDowntime)
	if err != nil {
		return monitor.Incident{}, nil, fmt.Errorf("postgres: downtimes of incident %s: %w", id, err)
	}
	return inc, ds, nil
}

// CountOpen returns how many incidents are open, for the vigil_incidents_open gauge.
func (s *IncidentStore) CountOpen(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM incidents WHERE ended_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count open incidents: %w", err)
	}
	return n, nil
}
