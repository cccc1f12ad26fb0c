package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

const notificationColumns = `o.id, o.incident_id, i.website_id, o.kind, o.channel, o.recipient,
	o.payload, o.state, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.sent_at`

func scanNotification(row pgx.Row) (monitor.Notification, error) {
	var n monitor.Notification
	err := row.Scan(&n.ID, &n.IncidentID, &n.WebsiteID, &n.Kind, &n.Channel, &n.Recipient,
		&n.Payload, &n.State, &n.Attempts, &n.NextAttemptAt, &n.LastError, &n.CreatedAt, &n.SentAt)
	return n, err
}

// EnqueueNotifications writes outbox rows in the transaction that changed the incident, due at
// once (at now). A row whose (incident, kind, channel, recipient) is already there is skipped,
// so that applying the same transition twice enqueues nothing twice. It returns how many rows
// it wrote.
func EnqueueNotifications(ctx context.Context, tx pgx.Tx, ns []monitor.Notification, now time.Time) (int64, error) {
	var written int64
	for _, n := range ns {
		tag, err := tx.Exec(ctx, `
			INSERT INTO outbox (incident_id, kind, channel, recipient, payload, next_attempt_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (incident_id, kind, channel, recipient) DO NOTHING`,
			n.IncidentID, n.Kind, n.Channel, n.Recipient, n.Payload, now)
		if err != nil {
			return written, fmt.Errorf("postgres: enqueue %s %s to %s: %w", n.Kind, n.Channel, n.Recipient, translate(err))
		}
		written += tag.RowsAffected()
	}
	return written, nil
}

// OutboxStore is the sender's side of the outbox.
type OutboxStore struct {
	pool *pgxpool.Pool
}

// NewOutboxStore returns an OutboxStore on pool.
func NewOutboxStore(pool *pgxpool.Pool) *OutboxStore {
	return &OutboxStore{pool: pool}
}

// LeaseLostError is the attempt error recorded when a sender's lease on a row ran out before
// it recorded an outcome: it died or hung mid-send, and the message may or may not have gone.
const LeaseLostError = "lease expired before the sender recorded an outcome (sender stopped mid-send?)"

// Claim takes up to limit due rows for this sender: pending rows whose next attempt is due, and
// sending rows whose lease (next_attempt_at) ran out because their sender died. It marks them
// sending with a lease until now+lease and counts the attempt. SKIP LOCKED lets many senders
// claim at once without waiting on, or taking, each other's rows. A row taken over from a dead
// sender gets an attempt with LeaseLostError, so that its history shows the lost attempt.
func (s *OutboxStore) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]monitor.Notification, error) {
	var out []monitor.Notification
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH due AS (
				SELECT id, state AS old_state FROM outbox
				WHERE state IN ('pending', 'sending') AND next_attempt_at <= $1
				ORDER BY next_attempt_at
				LIMIT $3
				FOR UPDATE SKIP LOCKED
			), claimed AS (
				UPDATE outbox o SET state = 'sending', attempts = o.attempts + 1, next_attempt_at = $2
				FROM due WHERE o.id = due.id
				RETURNING o.*, due.old_state
			)
			SELECT `+notificationColumns+`, o.old_state, coalesce(s.secret, '')
			FROM claimed o JOIN incidents i ON i.id = o.incident_id
			LEFT JOIN webhook_secrets s ON o.channel = 'webhook' AND s.website_id = i.website_id AND s.url = o.recipient
			ORDER BY o.created_at, o.id`, now, now.Add(lease), limit)
		if err != nil {
			return err
		}
		var lost []string
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (monitor.Notification, error) {
			var n monitor.Notification
			var old string
			err := row.Scan(&n.ID, &n.IncidentID, &n.WebsiteID, &n.Kind, &n.Channel, &n.Recipient,
				&n.Payload, &n.State, &n.Attempts, &n.NextAttemptAt, &n.LastError, &n.CreatedAt, &n.SentAt, &old, &n.Secret)
			if old == monitor.NotificationSending {
				lost = append(lost, n.ID)
			}
			return n, err
		})
		if err != nil {
			return err
		}
		if len(lost) > 0 {
			_, err = tx.Exec(ctx, `INSERT INTO notification_attempts (outbox_id, at, error)
				SELECT id, $2, $3 FROM unnest($1::uuid[]) AS id`, lost, now, LeaseLostError)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim outbox: %w", err)
	}
	return out, nil
}

// DeliveryOutcome is what became of one delivery attempt of a claimed row.
type DeliveryOutcome struct {
	// At is when the attempt ended.
	At time.Time
	// Err is the attempt's error, empty for a delivery.
	Err string
	// GiveUp marks a failed row given up instead of retried.
	GiveUp bool
	// NextAttemptAt is when a failed row is tried again (unless GiveUp).
	NextAttemptAt time.Time
}

// Record stores the attempt and its outcome: sent, pending again at NextAttemptAt, or given up.
// attempts fences the update: if the row was claimed again in the meantime (this sender's lease
// ran out and another sender took over), the attempt is recorded but the row's state is left to
// its new owner, and Record returns monitor.ErrConflict.
func (s *OutboxStore) Record(ctx context.Context, n monitor.Notification, o DeliveryOutcome) error {
	stale := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var attemptErr *string
		if o.Err != "" {
			attemptErr = &o.Err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notification_attempts (outbox_id, at, error) VALUES ($1, $2, $3)`,
			n.ID, o.At, attemptErr); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		var err error
		switch {
		case o.Err == "":
			tag, err = tx.Exec(ctx, `UPDATE outbox SET state = 'sent', sent_at = $3, last_error = ''
				WHERE id = $1 AND state = 'sending' AND attempts = $2`, n.ID, n.Attempts, o.At)
		case o.GiveUp:
			tag, err = tx.Exec(ctx, `UPDATE outbox SET state = 'given_up', last_error = $3
				WHERE id = $1 AND state = 'sending' AND attempts = $2`, n.ID, n.Attempts, o.Err)
		default:
			tag, err = tx.Exec(ctx, `UPDATE outbox SET state = 'pending', last_error = $3, next_attempt_at = $4
				WHERE id = $1 AND state = 'sending' AND attempts = $2`, n.ID, n.Attempts, o.Err, o.NextAttemptAt)
		}
		if err != nil {
			return err
		}
		stale = tag.RowsAffected() == 0
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: record attempt on %s: %w", n.ID, err)
	}
	if stale {
		return fmt.Errorf("postgres: record attempt on %s: row claimed again since: %w", n.ID, monitor.ErrConflict)
	}
	return nil
}

// Attempt is one recorded delivery attempt; Error is empty for a delivery.
type Attempt struct {
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}

// Attempts returns a row's delivery attempts, the oldest first.
func (s *OutboxStore) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	if !validID(id) {
		return []Attempt{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT at, coalesce(error, '') FROM notification_attempts
		WHERE outbox_id = $1 ORDER BY at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: attempts of %s: %w", id, err)
	}
	as, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Attempt])
	if err != nil {
		return nil, fmt.Errorf("postgres: attempts of %s: %w", id, err)
	}
	return as, nil
}

// NotificationFilter narrows the notification list.
type NotificationFilter struct {
	// State is one of the notification states, or empty for all.
	State string
	// IncidentID, when set, keeps one incident's notifications.
	IncidentID string
}

// List returns one page of outbox rows, the most recent first, and the cursor of the next page
// (nil at the end). The API lists given-up notifications with State monitor.NotificationGivenUp.
func (s *OutboxStore) List(ctx context.Context, f NotificationFilter, p ListParams) ([]monitor.Notification, *Cursor, error) {
	l := createdList[monitor.Notification]{
		what: "notifications", alias: "o.", newest: true, scan: scanNotification,
		from: `SELECT ` + notificationColumns + ` FROM outbox o JOIN incidents i ON i.id = o.incident_id`,
		key:  func(n monitor.Notification) Cursor { return Cursor{CreatedAt: n.CreatedAt, ID: n.ID} },
	}
	switch f.State {
	case "":
	case monitor.NotificationPending, monitor.NotificationSending, monitor.NotificationSent, monitor.NotificationGivenUp:
		l.args = append(l.args, f.State)
		l.where = append(l.where, fmt.Sprintf(`o.state = $%d`, len(l.args)))
	default:
		return nil, nil, &FieldError{Field: "state", Message: "must be pending, sending, sent or given_up"}
	}
	if f.IncidentID != "" {
		if !validID(f.IncidentID) {
			return []monitor.Notification{}, nil, nil
		}
		l.args = append(l.args, f.IncidentID)
		l.where = append(l.where, fmt.Sprintf(`o.incident_id = $%d`, len(l.args)))
	}
	return l.page(ctx, s.pool, p)
}

// CountPending returns how many rows are neither delivered nor given up: the backlog that the
// vigil_notifier_outbox_pending gauge reports.
func (s *OutboxStore) CountPending(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count pending notifications: %w", err)
	}
	return n, nil
}
