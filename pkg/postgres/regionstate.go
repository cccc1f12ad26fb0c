package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// LockWebsiteForAlerts reads what the notifier needs of a website to apply a transition (its
// name, URL, alert settings and the regions it has now) and locks the row until tx ends. The
// lock (FOR NO KEY UPDATE, which does not block inserts that reference the website) serialises
// every notifier's transactions on one website, so that two regions' transitions processed at
// once cannot both miss the quorum or both open an incident. A website that no longer exists is
// monitor.ErrNotFound.
func LockWebsiteForAlerts(ctx context.Context, tx pgx.Tx, websiteID string) (monitor.Website, error) {
	if !validID(websiteID) {
		return monitor.Website{}, monitor.ErrNotFound
	}
	var w monitor.Website
	err := tx.QueryRow(ctx, `
		SELECT w.id, w.name, w.url, w.enabled, w.alert_emails, w.webhooks, w.quorum, w.alert_regional,
		       CASE WHEN w.all_regions
		            THEN ARRAY(SELECT r.name FROM regions r ORDER BY r.name)
		            ELSE ARRAY(SELECT r.name FROM website_regions wr JOIN regions r ON r.id = wr.region_id
		                       WHERE wr.website_id = w.id ORDER BY r.name)
		       END
		FROM websites w WHERE w.id = $1
		FOR NO KEY UPDATE OF w`, websiteID).Scan(
		&w.ID, &w.Name, &w.URL, &w.Enabled, &w.AlertEmails, &w.Webhooks, &w.Quorum, &w.AlertRegional, &w.Regions)
	if err != nil {
		return monitor.Website{}, fmt.Errorf("postgres: lock website %s: %w", websiteID, translate(err))
	}
	return w, nil
}

// ApplyRegionState stores a pair's new confirmed state unless the transition is stale: applied
// is false, and nothing changes, when the stored state is already t.To or was set by a
// transition at or after t.At. This is what makes a redelivered event, or one that a worker
// emits again after Redis lost its state, change nothing.
func ApplyRegionState(ctx context.Context, tx pgx.Tx, t monitor.Transition, now time.Time) (applied bool, err error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO region_states (website_id, region, state, since, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (website_id, region) DO UPDATE
		SET state = EXCLUDED.state, since = EXCLUDED.since, updated_at = EXCLUDED.updated_at
		WHERE region_states.since < EXCLUDED.since AND region_states.state <> EXCLUDED.state`,
		t.WebsiteID, t.Region, string(t.To), t.At, now)
	if err != nil {
		return false, fmt.Errorf("postgres: apply region state %s/%s: %w", t.WebsiteID, t.Region, translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// RegionStates returns the stored confirmed states of a website's regions.
func RegionStates(ctx context.Context, tx pgx.Tx, websiteID string) ([]monitor.RegionState, error) {
	rows, err := tx.Query(ctx, `
		SELECT region, state, since FROM region_states WHERE website_id = $1 ORDER BY region`, websiteID)
	if err != nil {
		return nil, fmt.Errorf("postgres: region states of %s: %w", websiteID, err)
	}
	states, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (monitor.RegionState, error) {
		var s monitor.RegionState
		err := r.Scan(&s.Region, &s.State, &s.Since)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: region states of %s: %w", websiteID, err)
	}
	return states, nil
}
