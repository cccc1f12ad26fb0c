// Package notifier turns confirmed (website, region) transitions into regional downtimes,
// website incidents and notifications, so that no alert is lost and none is doubled.
//
// Two loops run in one process:
//
//   - The event loop reads transition events from the Redis events stream (a consumer group).
//     For each event it runs ONE PostgreSQL transaction that applies the transition to the
//     pair's stored state, opens or closes the regional downtime, applies the quorum, opens or
//     closes the website's incident and writes one outbox row per recipient and channel. Only
//     after the commit does it acknowledge the event. Applying is idempotent (a stale or
//     repeated transition changes nothing, and the outbox's unique key refuses a second row for
//     the same incident, kind, channel and recipient), so an event redelivered after a crash, or
//     re-emitted by a worker after Redis lost its state, changes nothing. If PostgreSQL is down
//     the event is held, unacknowledged, and retried with backoff.
//
//   - The sender loop claims due outbox rows (FOR UPDATE SKIP LOCKED, so many notifiers can
//     share the work) under a lease, sends each, records the attempt, and marks the row sent,
//     or reschedules it with exponential backoff and jitter, or gives it up after GiveUp. A row
//     whose sender died mid-send becomes due again when its lease runs out.
//
// Exactly-once delivery holds everywhere except one window, which no SMTP client can close:
// the SMTP server accepted a message (or a webhook receiver answered 2xx) but the notifier
// died, or lost PostgreSQL, before it recorded the row as sent. When the lease runs out the row
// is sent again, so the recipient gets a duplicate. The window is the time between the server's
// final answer and the commit of one small UPDATE. Emails carry a Message-ID derived from the
// outbox row, and webhooks a webhook-id header (the row's id), so mail clients and receivers can fold
// such a duplicate.
package notifier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// EventSource is the events stream as the notifier consumes it (*queue.EventConsumer).
type EventSource interface {
	EnsureGroup(ctx context.Context) error
	Read(ctx context.Context) ([]queue.TransitionEvent, error)
	Ack(ctx context.Context, ids ...string) error
}

// Metrics is what the notifier counts (*metrics.Notifier); nil counts nothing.
type Metrics interface {
	Notification(channel, result string)
	Event()
	IncidentOpened()
	IncidentResolved()
}

// Params configures a Notifier. Zero durations take the defaults noted.
type Params struct {
	// DB gives the incidents, the outbox and the notifier's transactions.
	DB     *postgres.DB
	Events EventSource // nil: the notifier only sends (Run skips the event loop)
	// Channels deliver the notifications, by channel type: cmd/notifier registers
	// *email.SMTP for monitor.ChannelEmail and *webhook.Client for monitor.ChannelWebhook.
	Channels notify.Registry
	Logger   *slog.Logger
	// Metrics may be nil.
	Metrics Metrics

	// DefaultEmails receive the alerts of websites that list no alert_emails.
	DefaultEmails []string
	// DashboardURL is the dashboard's base URL, for links in messages; empty for none.
	DashboardURL string

	// GiveUp is the age after which a notification that still fails is given up. Default 24 h.
	GiveUp time.Duration
	// SendTimeout bounds one delivery. Default 30 s.
	SendTimeout time.Duration
	// Lease is how long a claimed row belongs to its sender; it must be longer than
	// SendTimeout plus the time to record the outcome. Default 3 × SendTimeout.
	Lease time.Duration
	// BackoffBase and BackoffMax shape the retry delays: BackoffBase × 2^(attempt-1), capped at
	// BackoffMax, with jitter. Defaults 10 s and 10 min.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// PollInterval is how often the sender looks for due rows when nothing wakes it. Default 1 s.
	PollInterval time.Duration
	// ApplyTimeout bounds one event's transaction. Default 15 s.
	ApplyTimeout time.Duration
	// ReconcileInterval is how often open incidents are checked against configuration changes
	// that no transition reports (see Reconcile). Default 1 min.
	ReconcileInterval time.Duration

	// Now is the clock (default time.Now) and Rand a source of uniform floats in [0, 1)
	// (default math/rand/v2): tests inject both to drive backoff and give-up deterministically.
	Now  func() time.Time
	Rand func() float64
}

// Notifier is the notifier process's work: the event loop and the sender loop.
type Notifier struct {
	p      Params
	log    *slog.Logger
	outbox *postgres.OutboxStore
	alerts *postgres.AlertStore
	wake   chan struct{}
}

// New checks p, fills in defaults and returns a Notifier.
func New(p Params) (*Notifier, error) {
	if p.DB == nil {
		return nil, errors.New("notifier: no PostgreSQL adapter (DB)")
	}
	for _, ch := range []string{monitor.ChannelEmail, monitor.ChannelWebhook} {
		if p.Channels[ch] == nil {
			return nil, fmt.Errorf("notifier: no %s channel", ch)
		}
	}
	p.Logger = cmp.Or(p.Logger, slog.New(slog.DiscardHandler))
	p.GiveUp = cmp.Or(p.GiveUp, 24*time.Hour)
	p.SendTimeout = cmp.Or(p.SendTimeout, 30*time.Second)
	p.Lease = cmp.Or(p.Lease, 3*p.SendTimeout)
	p.BackoffBase = cmp.Or(p.BackoffBase, 10*time.Second)
	p.BackoffMax = cmp.Or(p.BackoffMax, 10*time.Minute)
	p.PollInterval = cmp.Or(p.PollInterval, time.Second)
	p.ApplyTimeout = cmp.Or(p.ApplyTimeout, 15*time.Second)
	p.ReconcileInterval = cmp.Or(p.ReconcileInterval, time.Minute)
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	if p.Metrics == nil {
		p.Metrics = noMetrics{}
	}
	if p.Lease <= p.SendTimeout {
		return nil, errors.New("notifier: the lease must be longer than the send timeout")
	}
	return &Notifier{p: p, log: p.Logger, outbox: p.DB.Outbox(), alerts: p.DB.Alerts(), wake: make(chan struct{}, 1)}, nil
}

// Run runs the event loop, the sender loop and the periodic Reconcile until ctx is cancelled. Shutdown order: both
// loops stop taking new work; the event loop finishes (commits and acknowledges) the event in
// hand, and the sender finishes and records the send in hand, each within its own timeout;
// then Run returns and the caller closes the pools.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if n.p.Events != nil {
		wg.Go(func() { n.RunEvents(ctx) })
		wg.Go(func() { n.runReconcile(ctx) })
	}
	wg.Go(func() { n.RunSender(ctx) })
	wg.Wait()
	return nil
}

// poke wakes the sender after new outbox rows were committed.
func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

type noMetrics struct{}

func (noMetrics) Notification(string, string) {}
func (noMetrics) Event()                      {}
func (noMetrics) IncidentOpened()             {}
func (noMetrics) IncidentResolved()           {}
