package notifier

import (
	"context"
	"time"

	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// Retry delays of the event loop when Redis or PostgreSQL fails.
const (
	eventRetryMin = 200 * time.Millisecond
	eventRetryMax = 30 * time.Second
)

// retryBackoff paces the event and sender loops' retries: eventRetryMin doubling to
// eventRetryMax, without jitter.
func retryBackoff() loop.Backoff { return loop.Backoff{Base: eventRetryMin, Max: eventRetryMax} }

// backOff logs a failure with the delay before the next try (retry_in) and waits it out; it
// returns false when ctx ends first.
func (n *Notifier) backOff(ctx context.Context, b *loop.Backoff, msg string, args ...any) bool {
	delay := b.Next()
	n.log.Error(msg, append(args, "retry_in", delay.String())...)
	return loop.Sleep(ctx, delay)
}

// RunEvents consumes transition events until ctx is cancelled. Each event is applied in one
// transaction and acknowledged only after the commit. When PostgreSQL fails, the event is held
// (neither acknowledged nor skipped) and retried with backoff, so events stay in order and none
// is lost; Redis keeps it pending meanwhile, and if this process dies another notifier claims
// it.
func (n *Notifier) RunEvents(ctx context.Context) {
	b := retryBackoff()
	for ctx.Err() == nil {
		delay := b.Next()
		if err := n.p.Events.EnsureGroup(ctx); err == nil {
			break
		} else if ctx.Err() == nil {
			n.log.Error("cannot create the events consumer group", "err", err, "retry_in", delay.String())
		}
		if !loop.Sleep(ctx, delay) {
			return
		}
	}
	b.Reset()
	for ctx.Err() == nil {
		evs, err := n.p.Events.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !n.backOff(ctx, &b, "read events", "err", err) {
				return
			}
			continue
		}
		b.Reset()
		for _, ev := range evs {
			if !n.handle(ctx, ev) {
				return
			}
		}
	}
}

// handle applies and acknowledges one event, retrying the transaction until it commits. It
// returns false if ctx ended first, leaving the event pending for redelivery.
func (n *Notifier) handle(ctx context.Context, ev queue.TransitionEvent) bool {
	if ev.Err != nil {
		// No retry will make it readable: acknowledge it so it does not come back forever.
		n.log.Error("dropping unreadable event", "event_id", ev.ID, "err", ev.Err)
		n.ack(ctx, ev.ID)
		return true
	}
	t := ev.Transition
	b := retryBackoff()
	for {
		if ctx.Err() != nil {
			return false
		}
		// The transaction runs to its end even when shutdown begins, so that a commit is
		// always followed by its acknowledgement.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.p.ApplyTimeout)
		res, err := n.Apply(actx, t)
		cancel()
		if err == nil {
			n.p.Metrics.Event()
			if res.Opened != nil {
				n.p.Metrics.IncidentOpened()
				n.log.Info("incident opened", "website_id", t.WebsiteID, "incident_id", res.Opened.ID,
					"regions", res.Opened.Regions, "notifications", res.Enqueued)
			}
			if res.Resolved != nil {
				n.p.Metrics.IncidentResolved()
				n.log.Info("incident resolved", "website_id", t.WebsiteID, "incident_id", res.Resolved.ID,
					"duration_seconds", res.Resolved.DurationSeconds, "notifications", res.Enqueued)
			}
			if res.Changed {
				n.log.Debug("transition applied", "website_id", t.WebsiteID, "region", t.Region, "to", string(t.To))
			}
			n.ack(ctx, ev.ID)
			if res.Enqueued > 0 {
				n.poke()
			}
			return true
		}
		if !n.backOff(ctx, &b, "apply transition; holding the event", "event_id", ev.ID, "website_id", t.WebsiteID,
			"region", t.Region, "err", err) {
			return false
		}
	}
}

// ack acknowledges after a commit. If it fails the event comes back later, and applying it
// again changes nothing.
func (n *Notifier) ack(ctx context.Context, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := n.p.Events.Ack(actx, id); err != nil {
		n.log.Warn("ack event; it will be redelivered and change nothing", "event_id", id, "err", err)
	}
}
