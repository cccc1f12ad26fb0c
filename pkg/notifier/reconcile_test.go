package notifier_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A region removed from a website leaves what is still down below the quorum: the incident
// resolves, once, and the removed region's period ends.
func TestReconcileRegionRemoved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Three", regions: []string{"eu", "us", "ap"}, emails: []string{"ops@example.com"}})
	n := h.notifier()
	_, err := n.Apply(h.ctx, up(id, "ap", h.at(0)))
	require.NoError(t, err)
	for _, r := range []string{"eu", "us"} {
		_, err := n.Apply(h.ctx, down(id, r, h.at(0)))
		require.NoError(t, err)
	}
	require.Equal(t, 1, h.count(`SELECT count(*) FROM incidents WHERE ended_at IS NULL`))

	resolved, err := n.Reconcile(h.ctx)
	require.NoError(t, err)
	require.Zero(t, resolved, "nothing changed")

	_, err = h.pool.Exec(h.ctx, `DELETE FROM website_regions WHERE website_id = $1
		AND region_id = (SELECT id FROM regions WHERE name = 'us')`, id)
	require.NoError(t, err)
	h.clock.Advance(time.Minute)
	resolved, err = n.Reconcile(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, resolved)
	resolved, err = n.Reconcile(h.ctx)
	require.NoError(t, err)
	require.Zero(t, resolved, "once")

	require.Zero(t, h.count(`SELECT count(*) FROM incidents WHERE ended_at IS NULL`))
	require.Equal(t, 1, h.count(`SELECT count(*) FROM outbox WHERE kind = 'recovered'`))
	require.Equal(t, 1, h.count(`SELECT count(*) FROM region_downtimes WHERE ended_at IS NULL`), "eu is still down")
	require.Equal(t, 1, h.count(`SELECT count(*) FROM region_states WHERE region = 'us' AND state = 'unknown'`))
	_, err = n.SendDue(h.ctx)
	require.NoError(t, err)
	msgs := h.waitMessages(2)
	require.Equal(t, "[RECOVERED] Three — down for 1m 0s", decode(t, msgs[1]).Subject)
}

// A region added to a website that is down raises its majority (1 of 1 becomes 2 of 2), but
// the new region has not reported yet: the incident stays open, with no RECOVERED for a site
// that is still failing. The new region's first confirmed state decides: down keeps the one
// incident, up resolves it.
func TestReconcileRegionAddedWhileDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Growing", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	n := h.notifier()
	_, err := n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)
	require.Equal(t, 1, h.count(`SELECT count(*) FROM incidents WHERE ended_at IS NULL`))

	_, err = h.pool.Exec(h.ctx, `INSERT INTO regions (name) VALUES ('ap') ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	_, err = h.pool.Exec(h.ctx, `INSERT INTO website_regions (website_id, region_id) SELECT $1, id FROM regions WHERE name = 'ap'`, id)
	require.NoError(t, err)
	h.clock.Advance(time.Minute)
	resolved, err := n.Reconcile(h.ctx)
	require.NoError(t, err)
	require.Zero(t, resolved, "ap has not reported: it may make the quorum")
	require.Zero(t, h.count(`SELECT count(*) FROM outbox WHERE kind = 'recovered'`))

	_, err = n.Apply(h.ctx, down(id, "ap", h.at(2*time.Minute)))
	require.NoError(t, err)
	resolved, err = n.Reconcile(h.ctx)
	require.NoError(t, err)
	require.Zero(t, resolved)
	require.Equal(t, 1, h.count(`SELECT count(*) FROM incidents`), "the same incident, not a new one")
	require.Equal(t, 1, h.count(`SELECT count(*) FROM incidents WHERE ended_at IS NULL`))

	_, err = n.Apply(h.ctx, up(id, "ap", h.at(3*time.Minute)))
	require.NoError(t, err)
	require.Zero(t, h.count(`SELECT count(*) FROM incidents WHERE ended_at IS NULL`), "1 of 2 down is below the majority")
	require.Equal(t, 1, h.count(`SELECT count(*) FROM outbox WHERE kind = 'recovered'`))
}

// A paused website's incident ends without a RECOVERED message; resumed while still down, it
// opens a new incident.
func TestReconcilePausedWebsite(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Paused", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	n := h.notifier()
	_, err := n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)
	_, err = h.pool.Exec(h.ctx, `UPDATE websites SET enabled = false WHERE id = $1`, id)
	require.NoError(t, err)
	h.clock.Advance(time.Minute)
	resolved, err := n.Reconcile(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, resolved)
	require.Zero(t, h.count(`SELECT count(*) FROM incidents WHERE ended_at IS NULL`))
	require.Zero(t, h.count(`SELECT count(*) FROM region_downtimes WHERE ended_at IS NULL`))
	require.Zero(t, h.count(`SELECT count(*) FROM outbox WHERE kind = 'recovered'`))

	_, err = h.pool.Exec(h.ctx, `UPDATE websites SET enabled = true WHERE id = $1`, id)
	require.NoError(t, err)
	res, err := n.Apply(h.ctx, down(id, "eu", h.at(2*time.Minute)))
	require.NoError(t, err)
	require.NotNil(t, res.Opened, "still down after the pause: a new incident")
	require.Equal(t, 2, h.count(`SELECT count(*) FROM incidents`))
}
