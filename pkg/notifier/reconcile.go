package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// Reconcile re-applies the quorum to every website with an open incident or downtime period,
// for the changes that no transition reports, so that nothing stays open forever (a "zombie"):
//
//   - a region was removed from the website: its open period ends now and its state becomes
//     unknown, since no worker will ever report on it again;
//   - what is still down is below the quorum (a region removed, the quorum raised): the
//     incident resolves now, with RECOVERED notifications; but not while regions that have
//     not reported yet (one just added) could still make the quorum (monitor.MayBeDown);
//     their first confirmed states decide, through the usual transitions;
//   - the website was paused (enabled = false): its incident and periods end now, without
//     notifications (nothing recovered; nobody is watching), and its regions' states become
//     unknown, so that a site still down when it is resumed opens a new incident.
//
// It returns how many incidents it resolved.
func (n *Notifier) Reconcile(ctx context.Context) (int, error) {
	ids, err := n.alerts.OpenWebsiteIDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("notifier: reconcile: %w", err)
	}
	resolved := 0
	for _, id := range ids {
		var closed bool
		err := n.alerts.InTx(ctx, func(tx *postgres.AlertTx) error {
			var err error
			closed, err = n.reconcile(ctx, tx, id)
			return err
		})
		if err != nil {
			return resolved, fmt.Errorf("notifier: reconcile %s: %w", id, err)
		}
		if closed {
			resolved++
			n.p.Metrics.IncidentResolved()
		}
	}
	if resolved > 0 {
		n.poke()
	}
	return resolved, nil
}

func (n *Notifier) reconcile(ctx context.Context, tx *postgres.AlertTx, websiteID string) (bool, error) {
	now := n.p.Now()
	site, err := tx.LockWebsite(ctx, websiteID)
	if errors.Is(err, monitor.ErrNotFound) {
		return false, nil // deleted: the cascade removed its incidents
	}
	if err != nil {
		return false, err
	}
	if !site.Enabled {
		// Every region: none of them is checked any more.
		site.Regions = nil
	}
	// End the periods, and forget the states, of regions the website no longer has.
	if err := tx.EndRemovedRegions(ctx, websiteID, site.Regions, now); err != nil {
		return false, err
	}
	open, err := tx.OpenIncidentOf(ctx, websiteID, now)
	if errors.Is(err, monitor.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !site.Enabled {
		if _, err := tx.CloseIncident(ctx, open.ID, now); err != nil {
			return false, err
		}
		n.log.Info("incident of a paused website ended", "website_id", websiteID, "incident_id", open.ID)
		return true, nil
	}
	states, err := tx.RegionStates(ctx, websiteID)
	if err != nil {
		return false, err
	}
	if monitor.MayBeDown(site, site.Regions, states) {
		// Still down, or regions that have not reported yet could make it so.
		return false, nil
	}
	ended, err := tx.CloseIncident(ctx, open.ID, now)
	if err != nil {
		return false, err
	}
	open.EndedAt = &ended
	open.DurationSeconds = int64(ended.Sub(open.StartedAt) / time.Second)
	// No check caused this: the latest check is the one that opened the incident.
	t := monitor.Transition{WebsiteID: websiteID, At: open.StartedAt, Outcome: open.Cause.Outcome,
		Reason: open.Cause.Reason, Message: open.Cause.Message, StatusCode: open.Cause.StatusCode}
	if len(open.Regions) > 0 {
		t.Region = open.Regions[0]
	}
	enq, err := n.enqueue(ctx, tx, site, open, monitor.KindRecovered, t, now)
	if err != nil {
		return false, err
	}
	n.log.Info("incident resolved: below the quorum after a configuration change", "website_id", websiteID,
		"incident_id", open.ID, "notifications", enq)
	return true, nil
}

// runReconcile calls Reconcile every interval until ctx ends.
func (n *Notifier) runReconcile(ctx context.Context) {
	loop.Every(ctx, n.p.ReconcileInterval, func(ctx context.Context) {
		if _, err := n.Reconcile(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("reconcile open incidents", "err", err)
		}
	})
}
