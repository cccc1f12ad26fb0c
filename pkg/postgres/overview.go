package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The overall states that the dashboard shows for a website. They are derived in SQL from what
// the notifier stored, so that the overview can filter and page by state on the server:
//   - paused: the website is disabled;
//   - down: it has an open incident (its quorum of regions is down);
//   - degraded: some region is down, but not enough for an incident;
//   - up: some region is up and none is down;
//   - unknown: no region has a confirmed state yet.
const (
	OverviewPaused   = "paused"
	OverviewDown     = "down"
	OverviewDegraded = "degraded"
	OverviewUp       = "up"
	OverviewUnknown  = "unknown"
)

// OverviewStates lists the states in the order the dashboard shows them, worst first.
var OverviewStates = []string{OverviewDown, OverviewDegraded, OverviewUp, OverviewUnknown, OverviewPaused}

// OverviewRow is one website as the overview lists it.
type OverviewRow struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	URL     string `json:"url"`
	Enabled bool   `json:"enabled"`
	// IntervalSeconds is how often the website is checked.
	IntervalSeconds int      `json:"interval_seconds"`
	State           string   `json:"state"`
	DownRegions     []string `json:"down_regions"`
	// DownSince is when the open incident started, if there is one.
	DownSince *time.Time `json:"down_since"`
	// LastDowntimeEnd is when the most recent closed incident ended.
	LastDowntimeEnd *time.Time `json:"last_downtime_end"`
}

// OverviewParams selects one page of the overview.
type OverviewParams struct {
	Query  string // substring of the name or URL, ignoring case
	State  string // one of OverviewStates, or "" for all
	Limit  int
	Offset int
}

// OverviewPage is one page of the overview, with the number of websites in each state among
// those that match the query (whatever the state filter), for the filter's counters.
type OverviewPage struct {
	Rows   []OverviewRow  `json:"rows"`
	Total  int            `json:"total"` // rows matching query and state, over all pages
	Counts map[string]int `json:"counts"`
}

// OverviewStore answers the dashboard's read-only questions about many websites at once.
type OverviewStore struct {
	pool *pgxpool.Pool
}

// NewOverviewStore returns an OverviewStore on pool.
func NewOverviewStore(pool *pgxpool.Pool) *OverviewStore {
	return &OverviewStore{pool: pool}
}

// overviewStateJoins joins what decides a website's state; it expects websites as w. The
// lateral form suits a page of rows (a few index lookups each); overviewStateJoinsAll, with
// hash joins on aggregates, suits every website at once (the counters and the state filter).
const overviewStateJoinsAll = `
	LEFT JOIN (SELECT rs.website_id, bool_or(rs.state = 'down') AS any_down, bool_or(rs.state = 'up') AS any_up,
			coalesce(array_agg(rs.region ORDER BY rs.region) FILTER (WHERE rs.state = 'down'), '{}') AS down_regions
		FROM region_states rs GROUP BY rs.website_id) rs ON rs.website_id = w.id
	LEFT JOIN incidents oi ON oi.website_id = w.id AND oi.ended_at IS NULL`

const overviewStateJoins = `
	LEFT JOIN LATERAL (SELECT bool_or(rs.state = 'down') AS any_down, bool_or(rs.state = 'up') AS any_up,
			coalesce(array_agg(rs.region ORDER BY rs.region) FILTER (WHERE rs.state = 'down'), '{}') AS down_regions
		FROM region_states rs WHERE rs.website_id = w.id) rs ON true
	LEFT JOIN incidents oi ON oi.website_id = w.id AND oi.ended_at IS NULL`

const overviewStateExpr = `CASE
		WHEN NOT w.enabled THEN 'paused'
		WHEN oi.id IS NOT NULL THEN 'down'
		WHEN coalesce(rs.any_down, false) THEN 'degraded'
		WHEN coalesce(rs.any_up, false) THEN 'up'
		ELSE 'unknown' END`

const overviewColumns = `w.id, w.name, w.url, w.enabled, w.interval_seconds, ` + overviewStateExpr + `, rs.down_regions, oi.started_at,
	(SELECT max(i.ended_at) FROM incidents i WHERE i.website_id = w.id AND i.ended_at IS NOT NULL)`

func scanOverviewRows(rows pgx.Rows) ([]OverviewRow, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (OverviewRow, error) {
		var r OverviewRow
		err := row.Scan(&r.ID, &r.Name, &r.URL, &r.Enabled, &r.IntervalSeconds, &r.State, &r.DownRegions, &r.DownSince, &r.LastDowntimeEnd)
		return r, err
	})
}

// Page returns one page of websites ordered by name. Without a state filter only the page's
// rows have their state worked out; the counters are one aggregate over the matching websites.
func (s *OverviewStore) Page(ctx context.Context, p OverviewParams) (OverviewPage, error) {
	args := []any{}
	where := `true`
	if p.Query != "" {
		args = append(args, likePattern(p.Query))
		where = fmt.Sprintf(`(w.name ILIKE $%[1]d OR w.url ILIKE $%[1]d)`, len(args))
	}
	countSQL := `SELECT state, count(*) FROM (SELECT ` + overviewStateExpr + ` AS state FROM websites w ` +
		overviewStateJoinsAll + ` WHERE ` + where + `) s GROUP BY state`
	rows, err := s.pool.Query(ctx, countSQL, args...)
	if err != nil {
		return OverviewPage{}, fmt.Errorf("postgres: overview counts: %w", err)
	}
	out := OverviewPage{Counts: map[string]int{}}
	var state string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		out.Counts[state] = n
		return nil
	}); err != nil {
		return OverviewPage{}, fmt.Errorf("postgres: overview counts: %w", err)
	}
	for _, st := range OverviewStates {
		out.Counts[st] += 0
		if p.State == "" || p.State == st {
			out.Total += out.Counts[st]
		}
	}

	var pageSQL string
	if p.State == "" {
		args = append(args, p.Limit, p.Offset)
		pageSQL = `SELECT ` + overviewColumns + ` FROM (SELECT * FROM websites w WHERE ` + where +
			fmt.Sprintf(` ORDER BY lower(w.name), w.id LIMIT $%d OFFSET $%d) w `, len(args)-1, len(args)) +
			overviewStateJoins + ` ORDER BY lower(w.name), w.id`
	} else {
		args = append(args, p.State, p.Limit, p.Offset)
		pageSQL = `SELECT ` + overviewColumns + ` FROM websites w ` + overviewStateJoinsAll + ` WHERE ` + where +
			fmt.Sprintf(` AND `+overviewStateExpr+` = $%d ORDER BY lower(w.name), w.id LIMIT $%d OFFSET $%d`,
				len(args)-2, len(args)-1, len(args))
	}
	rows, err = s.pool.Query(ctx, pageSQL, args...)
	if err != nil {
		return OverviewPage{}, fmt.Errorf("postgres: overview page: %w", err)
	}
	if out.Rows, err = scanOverviewRows(rows); err != nil {
		return OverviewPage{}, fmt.Errorf("postgres: overview page: %w", err)
	}
	return out, nil
}

// Rows returns the overview rows of the given websites, in the order of ids. Unknown ids are
// left out.
func (s *OverviewStore) Rows(ctx context.Context, ids []string) ([]OverviewRow, error) {
	ids = validIDs(ids)
	rows, err := s.pool.Query(ctx, `SELECT `+overviewColumns+` FROM websites w `+overviewStateJoins+
		` WHERE w.id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], w.id)`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: overview rows: %w", err)
	}
	out, err := scanOverviewRows(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: overview rows: %w", err)
	}
	return out, nil
}

// Period is a stretch of downtime of one website; End is nil while it lasts.
type Period struct {
	WebsiteID string     `json:"website_id"`
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end"`
}

// IncidentPeriods returns the incidents of the given websites that overlap [since, now), for
// the daily downtime in the uptime bars.
func (s *OverviewStore) IncidentPeriods(ctx context.Context, ids []string, since time.Time) ([]Period, error) {
	rows, err := s.pool.Query(ctx, `SELECT website_id, started_at, ended_at FROM incidents
		WHERE website_id = ANY($1::uuid[]) AND (ended_at IS NULL OR ended_at > $2)
		ORDER BY website_id, started_at`, validIDs(ids), since)
	if err != nil {
		return nil, fmt.Errorf("postgres: incident periods: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Period, error) {
		var p Period
		err := row.Scan(&p.WebsiteID, &p.Start, &p.End)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: incident periods: %w", err)
	}
	return out, nil
}

// PublicIncident is an incident as a public status page may show it: which of the page's
// websites, when, and a short cause. It leaves out the failing response's message, which can
// carry internal detail.
type PublicIncident struct {
	ID        string     `json:"id"`
	WebsiteID string     `json:"website_id"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Outcome   string     `json:"outcome"`
	Reason    string     `json:"reason"`
	Regions   []string   `json:"regions"`
}

// RecentIncidents returns the most recent incidents of the given websites, newest first.
func (s *OverviewStore) RecentIncidents(ctx context.Context, ids []string, since time.Time, limit int) ([]PublicIncident, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, website_id, started_at, ended_at, outcome, reason, regions
		FROM incidents WHERE website_id = ANY($1::uuid[]) AND (ended_at IS NULL OR ended_at > $2)
		ORDER BY started_at DESC, id DESC LIMIT $3`, validIDs(ids), since, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: recent incidents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PublicIncident, error) {
		var i PublicIncident
		err := row.Scan(&i.ID, &i.WebsiteID, &i.StartedAt, &i.EndedAt, &i.Outcome, &i.Reason, &i.Regions)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: recent incidents: %w", err)
	}
	return out, nil
}

func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			out = append(out, id)
		}
	}
	return out
}
