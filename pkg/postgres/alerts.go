package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// AlertStore runs the notifier's transactions. A transition, or a reconciliation after a
// configuration change, reads and writes one website's region states, downtimes, incident and
// outbox rows together, under the website's row lock, so each runs in one AlertTx.
type AlertStore struct {
	pool *pgxpool.Pool
}

// NewAlertStore returns an AlertStore on pool.
func NewAlertStore(pool *pgxpool.Pool) *AlertStore { return &AlertStore{pool: pool} }

// InTx runs fn in one transaction, committed if fn returns nil and rolled back otherwise.
func (s *AlertStore) InTx(ctx context.Context, fn func(tx *AlertTx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(&AlertTx{tx: tx}) })
}

// OpenWebsiteIDs lists the websites with an open incident or an open regional downtime: the
// ones a configuration change can leave open for ever.
func (s *AlertStore) OpenWebsiteIDs(ctx context.Context) ([]string, error) {
	ids, err := collectStrings(ctx, s.pool, `SELECT website_id FROM incidents WHERE ended_at IS NULL
		UNION SELECT website_id FROM region_downtimes WHERE ended_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("postgres: open websites: %w", err)
	}
	return ids, nil
}

// AlertTx is one of the notifier's transactions. Its methods are the steps of applying a
// transition; it is valid only inside the InTx call that made it.
type AlertTx struct {
	tx pgx.Tx
}

// LockWebsite reads a website for the quorum and locks its row until the transaction ends.
func (t *AlertTx) LockWebsite(ctx context.Context, websiteID string) (monitor.Website, error) {
	return LockWebsiteForAlerts(ctx, t.tx, websiteID)
}

// ApplyRegionState stores a transition's state, unless it is older than the stored one.
func (t *AlertTx) ApplyRegionState(ctx context.Context, tr monitor.Transition, now time.Time) (bool, error) {
	return ApplyRegionState(ctx, t.tx, tr, now)
}

// RegionStates returns a website's stored region states.
func (t *AlertTx) RegionStates(ctx context.Context, websiteID string) ([]monitor.RegionState, error) {
	return RegionStates(ctx, t.tx, websiteID)
}

// OpenRegionDowntime opens the downtime period of a down transition's region.
func (t *AlertTx) OpenRegionDowntime(ctx context.Context, tr monitor.Transition) error {
	return OpenRegionDowntime(ctx, t.tx, tr)
}

// CloseRegionDowntime ends a region's open downtime period at at.
func (t *AlertTx) CloseRegionDowntime(ctx context.Context, websiteID, region string, at time.Time) error {
	return CloseRegionDowntime(ctx, t.tx, websiteID, region, at)
}

// OpenRegionDowntimes returns a website's open downtime periods, earliest first.
func (t *AlertTx) OpenRegionDowntimes(ctx context.Context, websiteID string, now time.Time) ([]Downtime, error) {
	return OpenRegionDowntimes(ctx, t.tx, websiteID, now)
}

// AttachRegionDowntimes links a website's open downtime periods to its incident.
func (t *AlertTx) AttachRegionDowntimes(ctx context.Context, websiteID, incidentID string) error {
	return AttachRegionDowntimes(ctx, t.tx, websiteID, incidentID)
}

// EndRemovedRegions ends the open downtime periods, and forgets the states, of the regions
// a website is no longer checked from (every region but regions).
func (t *AlertTx) EndRemovedRegions(ctx context.Context, websiteID string, regions []string, now time.Time) error {
	if regions == nil {
		regions = []string{}
	}
	if _, err := t.tx.Exec(ctx, `UPDATE region_downtimes SET ended_at = greatest($3::timestamptz, started_at)
		WHERE website_id = $1 AND ended_at IS NULL AND region <> ALL ($2::text[])`, websiteID, regions, now); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE region_states SET state = 'unknown', since = greatest($3::timestamptz, since), updated_at = $3
		WHERE website_id = $1 AND state <> 'unknown' AND region <> ALL ($2::text[])`, websiteID, regions, now); err != nil {
		return err
	}
	return nil
}

// OpenIncidentOf returns a website's open incident, or monitor.ErrNotFound.
func (t *AlertTx) OpenIncidentOf(ctx context.Context, websiteID string, now time.Time) (monitor.Incident, error) {
	return OpenIncidentOf(ctx, t.tx, websiteID, now)
}

// InsertIncident opens an incident.
func (t *AlertTx) InsertIncident(ctx context.Context, inc monitor.Incident) (monitor.Incident, error) {
	return InsertIncident(ctx, t.tx, inc)
}

// AddIncidentRegions adds regions to an open incident's list of down regions.
func (t *AlertTx) AddIncidentRegions(ctx context.Context, incidentID string, regions []string) error {
	return AddIncidentRegions(ctx, t.tx, incidentID, regions)
}

// CloseIncident ends an incident at at and returns the end it stored.
func (t *AlertTx) CloseIncident(ctx context.Context, incidentID string, at time.Time) (time.Time, error) {
	return CloseIncident(ctx, t.tx, incidentID, at)
}

// EnqueueNotifications writes outbox rows and returns how many were new.
func (t *AlertTx) EnqueueNotifications(ctx context.Context, ns []monitor.Notification, now time.Time) (int64, error) {
	return EnqueueNotifications(ctx, t.tx, ns, now)
}
