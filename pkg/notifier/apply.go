package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// Applied says what one transition changed.
type Applied struct {
	// Changed is false when the transition was stale, repeated, blocked or for a website that no
	// longer exists: nothing was written.
	Changed bool
	// Opened and Resolved are set when the transition opened or resolved an incident.
	Opened   *monitor.Incident
	Resolved *monitor.Incident
	// Enqueued is the number of outbox rows written.
	Enqueued int64
}

// Apply applies one transition in one PostgreSQL transaction: the pair's state, its regional
// downtime, the quorum, the website's incident and the outbox rows. It is idempotent: applying
// a transition again, or one older than the pair's stored state, changes nothing.
//
// A website is down overall while at least its quorum of regions is confirmed down (see
// monitor.Decide). Then an incident opens, started at the moment the quorum was reached, with
// the cause of the first region that went down, and a DOWN notification goes to every
// recipient. It resolves, at the recovering transition's At, as soon as fewer than the quorum
// are down, and a RECOVERED notification follows. A region down below the quorum is a regional
// downtime only. A down transition whose outcome is blocked (the SSRF guard refused the target)
// is ignored: the target is misconfigured, not down.
func (n *Notifier) Apply(ctx context.Context, t monitor.Transition) (Applied, error) {
	var res Applied
	err := n.alerts.InTx(ctx, func(tx *postgres.AlertTx) error {
		res = Applied{}
		return n.apply(ctx, tx, t, &res)
	})
	if err != nil {
		return Applied{}, fmt.Errorf("notifier: apply %s/%s %s→%s: %w", t.WebsiteID, t.Region, t.From, t.To, err)
	}
	return res, nil
}

func (n *Notifier) apply(ctx context.Context, tx *postgres.AlertTx, t monitor.Transition, res *Applied) error {
	now := n.p.Now()
	site, err := tx.LockWebsite(ctx, t.WebsiteID)
	if errors.Is(err, monitor.ErrNotFound) {
		n.log.Info("transition for a website that no longer exists", "website_id", t.WebsiteID, "region", t.Region)
		return nil
	}
	if err != nil {
		return err
	}
	if t.To == monitor.StateDown && t.Outcome == monitor.OutcomeBlocked {
		n.log.Info("blocked target does not count as down", "website_id", t.WebsiteID, "region", t.Region)
		return nil
	}
	applied, err := tx.ApplyRegionState(ctx, t, now)
	if err != nil || !applied {
		return err
	}
	res.Changed = true
	if t.To == monitor.StateDown {
		err = tx.OpenRegionDowntime(ctx, t)
	} else {
		err = tx.CloseRegionDowntime(ctx, t.WebsiteID, t.Region, t.At)
	}
	if err != nil {
		return err
	}

	states, err := tx.RegionStates(ctx, t.WebsiteID)
	if err != nil {
		return err
	}
	verdict := monitor.Decide(site, site.Regions, states)
	open, err := tx.OpenIncidentOf(ctx, t.WebsiteID, now)
	hasOpen := err == nil
	if err != nil && !errors.Is(err, monitor.ErrNotFound) {
		return err
	}

	switch {
	case verdict.Down && !hasOpen:
		downs, err := tx.OpenRegionDowntimes(ctx, t.WebsiteID, now)
		if err != nil {
			return err
		}
		// The cause is the first failing check of the earliest region of the verdict that went
		// down (stored with its period), else this transition's first failing check.
		cause := t.Cause()
		for _, d := range downs {
			if slices.Contains(verdict.DownRegions, d.Region) {
				cause = d.Cause
				break
			}
		}
		inc, err := tx.InsertIncident(ctx, monitor.Incident{
			WebsiteID: site.ID, WebsiteName: site.Name, StartedAt: verdict.Since, Cause: cause, Regions: verdict.DownRegions,
		})
		if err != nil {
			return err
		}
		if err := tx.AttachRegionDowntimes(ctx, site.ID, inc.ID); err != nil {
			return err
		}
		res.Opened = &inc
		res.Enqueued, err = n.enqueue(ctx, tx, site, inc, monitor.KindDown, t, now)
		return err

	case verdict.Down && hasOpen:
		if err := tx.AddIncidentRegions(ctx, open.ID, verdict.DownRegions); err != nil {
			return err
		}
		return tx.AttachRegionDowntimes(ctx, site.ID, open.ID)

	case !verdict.Down && hasOpen && t.To != monitor.StateDown:
		ended, err := tx.CloseIncident(ctx, open.ID, t.At)
		if err != nil {
			return err
		}
		open.EndedAt = &ended
		open.DurationSeconds = int64(ended.Sub(open.StartedAt).Seconds())
		res.Resolved = &open
		res.Enqueued, err = n.enqueue(ctx, tx, site, open, monitor.KindRecovered, t, now)
		return err
	}
	return nil
}

// enqueue writes one outbox row per recipient and channel for an incident transition. Email
// goes to the website's alert_emails, or the default addresses when it lists none; webhooks to
// each of its webhook URLs.
func (n *Notifier) enqueue(ctx context.Context, tx *postgres.AlertTx, site monitor.Website, inc monitor.Incident,
	kind string, t monitor.Transition, now time.Time) (int64, error) {
	a := notify.Alert{
		Kind:       kind,
		IncidentID: inc.ID,
		Website:    notify.AlertWebsite{ID: site.ID, Name: site.Name, URL: notify.DisplayURL(site.URL)},
		StartedAt:  inc.StartedAt,
		EndedAt:    inc.EndedAt,
		Duration:   inc.DurationSeconds,
		Cause:      inc.Cause,
		Regions:    inc.Regions,
		Latest: notify.AlertCheck{Region: t.Region, At: t.At, Outcome: t.Outcome, Reason: t.Reason,
			Message: t.Message, StatusCode: t.StatusCode, ResponseMS: t.ResponseMS},
		DashboardURL: dashboardLink(n.p.DashboardURL, site.ID),
	}
	if kind == monitor.KindDown {
		a.Duration = 0
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return 0, fmt.Errorf("encode alert: %w", err)
	}
	emails := site.AlertEmails
	if len(emails) == 0 {
		emails = n.p.DefaultEmails
	}
	var rows []monitor.Notification
	for _, to := range uniq(emails) {
		rows = append(rows, monitor.Notification{IncidentID: inc.ID, Kind: kind, Channel: monitor.ChannelEmail, Recipient: to, Payload: payload})
	}
	for _, u := range uniq(site.Webhooks) {
		rows = append(rows, monitor.Notification{IncidentID: inc.ID, Kind: kind, Channel: monitor.ChannelWebhook, Recipient: u, Payload: payload})
	}
	if len(rows) == 0 {
		n.log.Warn("incident has no one to notify: set alert_emails, webhooks or VIGIL_DEFAULT_ALERT_EMAILS",
			"website_id", site.ID, "incident_id", inc.ID, "kind", kind)
		return 0, nil
	}
	return tx.EnqueueNotifications(ctx, rows, now)
}

func uniq(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func dashboardLink(base, websiteID string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/dashboard/websites/" + url.PathEscape(websiteID)
}
