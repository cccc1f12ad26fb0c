package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// RunSender delivers due outbox rows until ctx is cancelled, waking every PollInterval or as
// soon as the event loop commits new rows.
func (n *Notifier) RunSender(ctx context.Context) {
	b := retryBackoff()
	for ctx.Err() == nil {
		sent, err := n.SendDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !n.backOff(ctx, &b, "outbox", "err", err) {
				return
			}
			continue
		}
		b.Reset()
		if sent > 0 {
			continue
		}
		t := time.NewTimer(n.p.PollInterval)
		select {
		case <-ctx.Done():
		case <-n.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// SendDue claims and delivers due rows one at a time until none is due or ctx is cancelled,
// and returns how many it handled. A row is claimed just before it is sent, so the lease only
// has to cover one delivery. Once claimed, a row is sent and its outcome recorded even if ctx
// is cancelled meanwhile (each within its own timeout), so that a graceful stop never leaves a
// row to wait out its lease.
func (n *Notifier) SendDue(ctx context.Context) (int, error) {
	handled := 0
	for ctx.Err() == nil {
		rows, err := n.outbox.Claim(ctx, n.p.Now(), n.p.Lease, 1)
		if err != nil {
			return handled, err
		}
		if len(rows) == 0 {
			return handled, nil
		}
		n.send(context.WithoutCancel(ctx), rows[0])
		handled++
	}
	return handled, nil
}

func (n *Notifier) send(ctx context.Context, row monitor.Notification) {
	log := n.log.With("outbox_id", row.ID, "incident_id", row.IncidentID, "website_id", row.WebsiteID,
		"channel", row.Channel, "kind", row.Kind, "attempt", row.Attempts)
	sctx, cancel := context.WithTimeout(ctx, n.p.SendTimeout)
	retry, err := n.deliver(sctx, row)
	cancel()

	now := n.p.Now()
	out := postgres.DeliveryOutcome{At: now}
	result := metrics.ResultSent
	switch {
	case err == nil:
	case !retry || now.Sub(row.CreatedAt) >= n.p.GiveUp:
		out.Err, out.GiveUp = err.Error(), true
		result = metrics.ResultGivenUp
	default:
		out.Err = err.Error()
		out.NextAttemptAt = now.Add(n.Backoff(row.Attempts))
		result = metrics.ResultFailed
	}
	n.p.Metrics.Notification(row.Channel, result)

	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if rerr := n.outbox.Record(rctx, row, out); rerr != nil {
		if errors.Is(rerr, monitor.ErrConflict) {
			log.Warn("another sender took this notification over while it was being sent", "err", rerr)
			return
		}
		// The row stays 'sending' and is retried when its lease runs out. If it was delivered,
		// this is the documented duplicate window.
		log.Error("record delivery outcome", "err", rerr, "delivered", err == nil)
		return
	}
	switch {
	case err == nil:
		log.Info("notification sent")
	case out.GiveUp:
		log.Error("notification given up", "err", err, "age", now.Sub(row.CreatedAt).Round(time.Second).String())
	default:
		log.Warn("notification failed; will retry", "err", err, "next_attempt_at", out.NextAttemptAt)
	}
}

// deliver hands row to its channel's notifier. A row that can never be delivered (an
// unreadable payload, an unknown channel, a message its channel cannot render) is not worth a
// retry: it is given up at once instead of retried for a day.
func (n *Notifier) deliver(ctx context.Context, row monitor.Notification) (retry bool, err error) {
	var a notify.Alert
	if err := json.Unmarshal(row.Payload, &a); err != nil {
		return false, fmt.Errorf("notifier: decode payload: %w", err)
	}
	ch, ok := n.p.Channels[row.Channel]
	if !ok {
		return false, fmt.Errorf("notifier: unknown channel %q", row.Channel)
	}
	return ch.Notify(ctx, notify.Message{ID: row.ID, Recipient: row.Recipient, Secret: row.Secret, Alert: a})
}

// Backoff is the delay before retrying a notification that failed its attempt-th attempt:
// exponential from BackoffBase, capped at BackoffMax, with "equal jitter" (half fixed, half
// random) so that the notifications of one SMTP outage do not all retry in the same second.
func (n *Notifier) Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(n.p.BackoffBase) * math.Pow(2, float64(attempt-1))
	d = math.Min(d, float64(n.p.BackoffMax))
	return time.Duration(d/2 + n.p.Rand()*d/2)
}
