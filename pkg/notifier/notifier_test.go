package notifier_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notifier"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// A site goes down in its only region: one DOWN email per recipient; a redelivered event changes
// nothing; it recovers: one RECOVERED email per recipient with the downtime's duration.
func TestDownThenRecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Shop", url: "https://admin:hunter2@shop.example/health?x=1", regions: []string{"eu"},
		emails: []string{"a@example.com", "b@example.com"}})
	h.run(h.notifier())

	downAt := h.at(-10 * time.Minute)
	h.publish(down(id, "eu", downAt))
	msgs := h.waitMessages(2)
	var rcpts []string
	for _, m := range msgs {
		rcpts = append(rcpts, m.To...)
		e := decode(t, m)
		require.Equal(t, "[DOWN] Shop — HTTP 503", e.Subject)
		require.Contains(t, e.Text, "https://shop.example/health?x=1")
		require.NotContains(t, string(m.Data), "hunter2", "userinfo never reaches an inbox")
		require.Contains(t, e.Text, downAt.Format("2006-01-02 15:04:05 UTC"))
		require.Contains(t, e.Text, "Regions:  eu")
		require.Contains(t, e.Text, "Status code:   503")
		require.Contains(t, e.Text, "42 ms")
		require.Contains(t, e.Text, "https://vigil.example/dashboard/websites/"+id)
		require.Contains(t, e.HTML, "Shop is down")
		// One Message-ID per outbox row, on SMTP_FROM's domain (vigil@example.com here).
		require.Regexp(t, `^<[0-9a-f-]{36}@example\.com>$`, e.Header.Get("Message-Id"))
		require.Equal(t, "auto-generated", e.Header.Get("Auto-Submitted"))
	}
	slices.Sort(rcpts)
	require.Equal(t, []string{"a@example.com", "b@example.com"}, rcpts)

	// The same event again (a redelivery) and a re-emission after a Redis loss: nothing changes.
	h.publish(down(id, "eu", downAt))
	h.publish(down(id, "eu", downAt.Add(5*time.Minute)))
	h.barrier()
	require.Equal(t, 2, h.count(`SELECT count(*) FROM outbox`))
	require.Equal(t, 1, h.count(`SELECT count(*) FROM incidents WHERE website_id = $1`, id))
	require.Equal(t, 1, h.count(`SELECT count(*) FROM region_downtimes WHERE website_id = $1`, id))

	upAt := downAt.Add(4*time.Minute + 12*time.Second)
	h.publish(up(id, "eu", upAt))
	msgs = h.waitMessages(4)
	for _, m := range msgs[2:] {
		e := decode(t, m)
		require.Equal(t, "[RECOVERED] Shop — down for 4m 12s", e.Subject)
		require.Contains(t, e.Text, "Downtime:  4m 12s")
		require.Contains(t, e.HTML, "4m 12s")
	}
	h.publish(up(id, "eu", upAt))
	h.barrier()
	require.Len(t, h.sink.Messages(), 4)

	inc, _, err := postgres.NewIncidentStore(h.pool).List(h.ctx, postgres.IncidentFilter{WebsiteID: id}, postgres.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, inc, 1)
	require.True(t, downAt.Equal(inc[0].StartedAt))
	require.True(t, upAt.Equal(*inc[0].EndedAt))
	require.EqualValues(t, 252, inc[0].DurationSeconds)
	require.Equal(t, "HTTP 503", inc[0].Cause.Message)
	require.Equal(t, []string{"eu"}, inc[0].Regions)

	dts, err := postgres.NewDowntimeStore(h.pool).List(h.ctx, postgres.DowntimeFilter{WebsiteID: id, From: h.at(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, dts, 1)
	require.EqualValues(t, 252, dts[0].DurationSeconds)
	require.Equal(t, inc[0].ID, *dts[0].IncidentID)

	require.Eventually(t, func() bool {
		p, err := h.rdb.XPending(h.ctx, h.keys.Events(), queue.Group).Result()
		require.NoError(t, err)
		return p.Count == 0
	}, 5*time.Second, 10*time.Millisecond, "every event is acknowledged")
}

// The site first answered 500, then timed out on the check that confirmed it down: the incident's
// and the downtime's cause is the first failing check, while the email's latest response
// details are the confirming check's.
func TestCauseIsTheFirstFailingCheck(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Shop", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	h.run(h.notifier())

	downAt := h.at(-time.Minute)
	tr := monitor.Transition{WebsiteID: id, Region: "eu", From: monitor.StateUp, To: monitor.StateDown, At: downAt,
		Outcome: monitor.OutcomeTimeout, Reason: "timeout", Message: "no response within 10000 ms", ResponseMS: 10000,
		FirstOutcome: monitor.OutcomeDown, FirstReason: "status", FirstMessage: "status 500, expected 200-399", FirstStatusCode: 500}
	h.publish(tr)
	msgs := h.waitMessages(1)
	e := decode(t, msgs[0])
	require.Equal(t, "[DOWN] Shop — status 500, expected 200-399", e.Subject)
	require.Contains(t, e.Text, "Cause:    status 500, expected 200-399")
	require.Contains(t, e.Text, "Outcome:       timeout (timeout)")
	require.Contains(t, e.Text, "Message:       no response within 10000 ms")

	inc, _, err := postgres.NewIncidentStore(h.pool).List(h.ctx, postgres.IncidentFilter{WebsiteID: id}, postgres.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, inc, 1)
	want := monitor.Cause{Outcome: monitor.OutcomeDown, Reason: "status", Message: "status 500, expected 200-399", StatusCode: 500}
	require.Equal(t, want, inc[0].Cause)
	dts, err := postgres.NewDowntimeStore(h.pool).List(h.ctx, postgres.DowntimeFilter{WebsiteID: id, From: h.at(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, dts, 1)
	require.Equal(t, want, dts[0].Cause)
	require.True(t, downAt.Equal(dts[0].StartedAt))
}

// Two regions, quorum 2 (the default majority): one region down is a regional downtime and
// pages no one; both down sends one email.
func TestQuorumTwoOfTwo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "API", regions: []string{"eu", "us"}, emails: []string{"ops@example.com"}})
	h.run(h.notifier())

	h.publish(down(id, "eu", h.at(-time.Minute)))
	h.barrier()
	require.Equal(t, 1, h.count(`SELECT count(*) FROM region_downtimes WHERE website_id = $1 AND region = 'eu' AND ended_at IS NULL`, id))
	require.Zero(t, h.count(`SELECT count(*) FROM incidents`))
	require.Zero(t, h.count(`SELECT count(*) FROM outbox`))

	usAt := h.at(-30 * time.Second)
	h.publish(down(id, "us", usAt))
	msgs := h.waitMessages(1)
	require.Equal(t, []string{"ops@example.com"}, msgs[0].To)
	require.Contains(t, decode(t, msgs[0]).Text, "Regions:  eu, us")
	var started time.Time
	var regions []string
	require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT started_at, regions FROM incidents WHERE website_id = $1`, id).Scan(&started, &regions))
	require.True(t, usAt.Equal(started), "down overall from when the quorum was reached")
	require.Equal(t, []string{"eu", "us"}, regions)

	// One region recovers: below the quorum again, so the incident resolves.
	h.publish(up(id, "eu", h.at(0)))
	msgs = h.waitMessages(2)
	require.Equal(t, "[RECOVERED] API — down for 30s", decode(t, msgs[1]).Subject)
}

func TestAlertRegionalAndBlocked(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	n := h.notifier()
	regional := h.website(site{name: "R", regions: []string{"eu", "us", "ap"}, alertRegional: true})
	res, err := n.Apply(h.ctx, down(regional, "ap", h.at(0)))
	require.NoError(t, err)
	require.NotNil(t, res.Opened, "alert_regional pages on the first region down")
	require.EqualValues(t, 1, res.Enqueued, "to the default recipients")
	require.Equal(t, 1, h.count(`SELECT count(*) FROM outbox WHERE recipient = 'fallback@example.com'`))

	blocked := h.website(site{name: "B", regions: []string{"eu"}, emails: []string{"x@example.com"}})
	tr := down(blocked, "eu", h.at(0))
	tr.Outcome, tr.Reason = monitor.OutcomeBlocked, "ssrf"
	res, err = n.Apply(h.ctx, tr)
	require.NoError(t, err)
	require.False(t, res.Changed)
	require.Zero(t, h.count(`SELECT count(*) FROM region_downtimes WHERE website_id = $1`, blocked))

	// A transition for a deleted website is dropped, not retried forever.
	res, err = n.Apply(h.ctx, down("7d1b7c3a-0000-4000-8000-000000000000", "eu", h.at(0)))
	require.NoError(t, err)
	require.False(t, res.Changed)
}

// SMTP refuses connections for a while in the middle of an outage: the email is delivered once
// after SMTP returns, and every failed attempt is on record.
func TestSMTPOutageDeliversOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Web", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	n := h.notifier()
	require.NoError(t, h.sink.Stop())
	_, err := n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)

	for range 3 {
		handled, err := n.SendDue(h.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, handled)
		handled, err = n.SendDue(h.ctx)
		require.NoError(t, err)
		require.Zero(t, handled, "not due again before its backoff")
		h.clock.Advance(time.Minute)
	}
	require.Equal(t, 3, h.count(`SELECT count(*) FROM notification_attempts WHERE error IS NOT NULL`))
	require.Equal(t, monitor.NotificationPending, stateOf(h))

	require.NoError(t, h.sink.Restart())
	h.clock.Advance(10 * time.Minute)
	stop := h.run(n)
	h.waitMessages(1)
	require.Eventually(t, func() bool { return stateOf(h) == monitor.NotificationSent }, 5*time.Second, 10*time.Millisecond)
	h.clock.Advance(48 * time.Hour)
	stop()
	handled, err := n.SendDue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, handled)
	require.Len(t, h.sink.Messages(), 1)
	require.Equal(t, 1, h.count(`SELECT count(*) FROM notification_attempts WHERE error IS NULL`))
}

func stateOf(h *harness) string {
	var s string
	require.NoError(h.t, h.pool.QueryRow(h.ctx, `SELECT state FROM outbox`).Scan(&s))
	return s
}

// The notifier dies after committing the outbox rows and before sending them: a new instance
// delivers each exactly once.
func TestRestartBetweenOutboxAndSend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Web", regions: []string{"eu"}, emails: []string{"a@example.com", "b@example.com"}})
	dead := h.notifier()
	_, err := dead.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)

	restarted := h.notifier()
	handled, err := restarted.SendDue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, handled)
	for _, n := range []*notifier.Notifier{restarted, dead, h.notifier()} {
		handled, err := n.SendDue(h.ctx)
		require.NoError(t, err)
		require.Zero(t, handled)
	}
	require.Len(t, h.sink.Messages(), 2)
}

// A sender claimed a row and died mid-send: once its lease runs out, another sender delivers
// it, once, and the lost attempt is on record.
func TestExpiredLeaseIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Web", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	n := h.notifier(func(p *notifier.Params) { p.Lease = time.Minute })
	_, err := n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)
	claimed, err := postgres.NewOutboxStore(h.pool).Claim(h.ctx, h.clock.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	handled, err := n.SendDue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, handled, "the row is leased to the dead sender")
	h.clock.Advance(time.Minute)
	handled, err = n.SendDue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, handled)
	require.Len(t, h.sink.Messages(), 1)
	attempts, err := postgres.NewOutboxStore(h.pool).Attempts(h.ctx, claimed[0].ID)
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	require.Equal(t, postgres.LeaseLostError, attempts[0].Error)
	require.Empty(t, attempts[1].Error)
}

// A notification that keeps failing (SMTP answers 4xx) is given up after the give-up age, and
// listed.
func TestGiveUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Web", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	n := h.notifier(func(p *notifier.Params) { p.GiveUp = 2 * time.Hour })
	h.sink.SetFailing(true)
	_, err := n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)
	for i := 0; i < 100 && stateOf(h) != monitor.NotificationGivenUp; i++ {
		_, err := n.SendDue(h.ctx)
		require.NoError(t, err)
		h.clock.Advance(10 * time.Minute)
	}
	require.Equal(t, monitor.NotificationGivenUp, stateOf(h))
	require.Empty(t, h.sink.Messages())
	given, _, err := postgres.NewOutboxStore(h.pool).List(h.ctx, postgres.NotificationFilter{State: monitor.NotificationGivenUp}, postgres.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, given, 1)
	require.Equal(t, "ops@example.com", given[0].Recipient)
	require.Contains(t, given[0].LastError, "451")
	attempts := h.count(`SELECT count(*) FROM notification_attempts WHERE error LIKE '%451%'`)
	require.Equal(t, given[0].Attempts, attempts)
	// Backoff grows: 10 s, 20 s, 40 s, ... capped at 10 min; with the 10-minute steps of this
	// test the two hours take about a dozen attempts, not a hundred.
	require.Less(t, attempts, 20)
	handled, err := n.SendDue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, handled, "given up is final")
}

// User text never injects a header, and the HTML part escapes it.
func TestHeaderInjectionAndEscaping(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "x\r\nBcc: evil@example.com\r\n<script>alert(1)</script>", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	n := h.notifier()
	tr := down(id, "eu", h.at(0))
	tr.Message = "boom\r\nX-Injected: yes <b>bold</b>"
	_, err := n.Apply(h.ctx, tr)
	require.NoError(t, err)
	_, err = n.SendDue(h.ctx)
	require.NoError(t, err)
	msgs := h.waitMessages(1)
	require.Equal(t, []string{"ops@example.com"}, msgs[0].To, "no extra recipient")
	e := decode(t, msgs[0])
	require.Empty(t, e.Header.Get("Bcc"))
	require.Empty(t, e.Header.Get("X-Injected"))
	require.NotContains(t, e.Subject, "\n")
	require.True(t, strings.HasPrefix(e.Subject, "[DOWN] x Bcc: evil@example.com"), e.Subject)
	require.NotContains(t, e.HTML, "<script>")
	require.Contains(t, e.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, e.HTML, "&lt;b&gt;bold&lt;/b&gt;")
}

// Webhooks: a signed JSON POST per incident transition, through the outbox and the guard.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Hooked", regions: []string{"eu"}, webhooks: []string{h.hookURL + "/vigil"}})
	n := h.notifier()
	_, err := n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)
	_, err = n.Apply(h.ctx, up(id, "eu", h.at(90*time.Second)))
	require.NoError(t, err)
	handled, err := n.SendDue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 4, handled, "two webhooks and two emails")
	reqs := h.hooks()
	require.Len(t, reqs, 2)
	msgs := h.sink.Messages()
	require.Len(t, msgs, 2, "a website without alert_emails mails the default recipients")
	require.Equal(t, []string{"fallback@example.com"}, msgs[0].To)
	var events []string
	for _, r := range reqs {
		require.Equal(t, "/vigil", r.Path)
		require.NoError(t, webhook.Verify([]byte(hookSecret), r.Header, r.Body, h.clock.Now(), 0))
		var a notify.Alert
		require.NoError(t, json.Unmarshal(r.Body, &a))
		require.Equal(t, id, a.Website.ID)
		require.Equal(t, "Hooked", a.Website.Name)
		require.Equal(t, []string{"eu"}, a.Regions)
		require.Equal(t, r.Header.Get(webhook.EventHeader), a.Kind)
		events = append(events, a.Kind)
		if a.Kind == monitor.KindRecovered {
			require.EqualValues(t, 90, a.Duration)
			require.True(t, h.at(90*time.Second).Equal(*a.EndedAt))
		}
	}
	slices.Sort(events)
	require.Equal(t, []string{"down", "recovered"}, events)
}

// A webhook with a secret of its own is signed with the secret it has when the delivery is
// sent (a retry after a rotation signs with the new one), keeps its webhook-id across retries,
// and the first attempt, replayed later, no longer verifies. Webhooks without one are signed
// with the default. No secret reaches the events stream.
func TestWebhookOwnSecretAtSendTime(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const (
		oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		newSecret = "whsec_bmV3LXNlY3JldC1vZi10d2VudHktZm91ci1ieXRlcw=="
	)
	own, def := h.hookURL+"/own", h.hookURL+"/default"
	id := h.website(site{name: "Hooked", regions: []string{"eu"}, emails: []string{"ops@example.com"}, webhooks: []string{own, def}})
	_, err := h.pool.Exec(h.ctx, `INSERT INTO webhook_secrets (website_id, url, secret) VALUES ($1, $2, $3)`, id, own, oldSecret)
	require.NoError(t, err)
	n := h.notifier()
	_, err = n.Apply(h.ctx, down(id, "eu", h.at(0)))
	require.NoError(t, err)

	h.hookStatus.Store(http.StatusServiceUnavailable)
	_, err = n.SendDue(h.ctx)
	require.NoError(t, err)
	firstAt := h.clock.Now()
	require.Len(t, h.hooks(), 2)

	// The secret is rotated while the delivery waits for its retry.
	_, err = h.pool.Exec(h.ctx, `UPDATE webhook_secrets SET secret = $2 WHERE website_id = $1`, id, newSecret)
	require.NoError(t, err)
	h.hookStatus.Store(http.StatusOK)
	h.clock.Advance(time.Hour)
	_, err = n.SendDue(h.ctx)
	require.NoError(t, err)

	byPath := map[string][]hookRequest{}
	for _, r := range h.hooks() {
		byPath[r.Path] = append(byPath[r.Path], r)
		require.NotContains(t, fmt.Sprint(r.Header), "whsec_", "a secret never travels")
	}
	require.Len(t, byPath["/own"], 2)
	require.Len(t, byPath["/default"], 2)
	oldKey, err := webhook.ParseSecret(oldSecret)
	require.NoError(t, err)
	newKey, err := webhook.ParseSecret(newSecret)
	require.NoError(t, err)

	first, retry := byPath["/own"][0], byPath["/own"][1]
	require.NotEmpty(t, first.Header.Get(webhook.IDHeader))
	require.Equal(t, first.Header.Get(webhook.IDHeader), retry.Header.Get(webhook.IDHeader), "a retry keeps its webhook-id")
	require.NoError(t, webhook.Verify(oldKey, first.Header, first.Body, firstAt, 0))
	require.NoError(t, webhook.Verify(newKey, retry.Header, retry.Body, h.clock.Now(), 0), "signed with the secret of send time")
	require.ErrorIs(t, webhook.Verify(oldKey, retry.Header, retry.Body, h.clock.Now(), 0), webhook.ErrSignature)
	require.ErrorIs(t, webhook.Verify(oldKey, first.Header, first.Body, h.clock.Now(), 0), webhook.ErrTimestamp,
		"the first attempt, replayed an hour later, is refused")
	require.ErrorIs(t, webhook.Verify([]byte(hookSecret), retry.Header, retry.Body, h.clock.Now(), 0), webhook.ErrSignature,
		"a webhook with its own secret is not signed with the default")
	for _, r := range byPath["/default"] {
		require.Equal(t, byPath["/default"][0].Header.Get(webhook.IDHeader), r.Header.Get(webhook.IDHeader))
	}
	require.NoError(t, webhook.Verify([]byte(hookSecret), byPath["/default"][1].Header, byPath["/default"][1].Body, h.clock.Now(), 0))

	entries, err := h.rdb.XRange(h.ctx, h.keys.Events(), "-", "+").Result()
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprint(entries), "whsec_")
}
