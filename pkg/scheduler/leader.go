package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// lockClass is the first key of the leader's advisory lock ("VGSC"). The second is a hash of
// the connection's schema, so that installs (and tests) sharing one database in different
// schemas elect their leaders independently. tern's migration lock uses a one-key lock and
// cannot collide with this two-key one.
const lockClass = 0x56475343

// lockCheckTimeout bounds the leader's check that it still holds the lock. A check that times
// out counts as lost, so it is generous: a busy database should not make the leader step down
// (a standby gets the lock only once PostgreSQL frees it, whatever this process decides).
const lockCheckTimeout = 5 * time.Second

// elector holds a PostgreSQL session advisory lock on a dedicated connection for as long as
// this process leads. PostgreSQL frees the lock when the session ends, so a leader that dies
// (or whose connection drops) lets a standby in at its next attempt, with no lease to expire.
type elector struct {
	connect func(ctx context.Context) (*pgx.Conn, error)
	retry   time.Duration // how often a standby tries to take the lock
	ping    time.Duration // how often the leader checks it still holds it
	log     *slog.Logger
	onLead  func(bool)

	leading atomic.Bool
	conn    *pgx.Conn
}

// isLeader reports whether this process holds the lock as far as it last checked.
func (e *elector) isLeader() bool { return e.leading.Load() }

func (e *elector) set(leading bool) {
	if e.leading.Swap(leading) != leading && e.onLead != nil {
		e.onLead(leading)
	}
}

// run campaigns until ctx ends, then releases the lock and closes the connection.
func (e *elector) run(ctx context.Context) {
	defer e.release()
	for ctx.Err() == nil {
		won, err := e.try(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "leader election: try lock", "err", err)
			e.drop()
		}
		for won && ctx.Err() == nil {
			e.log.InfoContext(ctx, "leader election: leading")
			e.set(true)
			err := e.hold(ctx)
			won = false
			if ctx.Err() == nil && postgres.IsUnavailable(err) {
				// PostgreSQL is out of reach, not taken by another scheduler: keep
				// dispatching from memory until it answers again, then take the lock back
				// or, if a standby got it meanwhile, stand by.
				won = e.leadUnlocked(ctx)
			}
		}
		if e.leading.Load() {
			e.set(false)
			if ctx.Err() == nil {
				e.log.WarnContext(ctx, "leader election: lost the lock, standing by")
			}
		}
		// After losing the lock too: a process whose connection was cut waits its turn like
		// any standby instead of grabbing the lock back at once.
		wait(ctx, e.retry)
	}
}

// try connects if needed and tries the lock once.
func (e *elector) try(ctx context.Context) (bool, error) {
	if e.conn == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := e.connect(cctx)
		cancel()
		if err != nil {
			return false, fmt.Errorf("connect: %w", err)
		}
		e.conn = conn
	}
	tctx, cancel := context.WithTimeout(ctx, max(e.retry, time.Second))
	defer cancel()
	var won bool
	err := e.conn.QueryRow(tctx,
		`SELECT pg_try_advisory_lock($1, hashtext(current_schema()))`, int32(lockClass)).Scan(&won)
	if err != nil {
		return false, err
	}
	return won, nil
}

// hold returns when ctx ends or the connection that holds the lock stops answering, with the
// error of the failed check (nil if the lock was simply no longer held). Losing the connection
// is losing the lock: PostgreSQL frees it with the session.
func (e *elector) hold(ctx context.Context) error {
	t := time.NewTicker(e.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, lockCheckTimeout)
		var held bool
		err := e.conn.QueryRow(pctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND pid = pg_backend_pid() AND classid = $1::int::oid AND objid = hashtext(current_schema())::oid
			AND objsubid = 2 AND granted)`, int32(lockClass)).Scan(&held)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && postgres.IsUnavailable(err) {
			e.log.WarnContext(ctx, "leader election: PostgreSQL unreachable; dispatching from memory until it returns", "err", err)
			e.drop()
			return err
		}
		if err != nil || !held {
			e.set(false) // stop dispatching before anything else
			e.log.WarnContext(ctx, "leader election: lock check failed", "err", err, "held", held)
			e.drop()
			return err
		}
	}
}

// leadUnlocked keeps this process leading without the lock while PostgreSQL cannot be
// reached, trying every retry period to take the lock back. It reports true once the lock is
// retaken, false when another scheduler holds it (or ctx ends): then this one stands by.
//
// Two schedulers may dispatch at once meanwhile (a standby that still reaches PostgreSQL takes
// the freed lock), which the dispatch script makes harmless: its fence never queues one due
// time twice and coalescing never queues a pair that is pending. Standing down instead would
// stop every check in the install for as long as PostgreSQL is away.
func (e *elector) leadUnlocked(ctx context.Context) bool {
	for {
		wait(ctx, e.retry)
		if ctx.Err() != nil {
			return false
		}
		won, err := e.try(ctx)
		switch {
		case won:
			e.log.InfoContext(ctx, "leader election: PostgreSQL is back and the lock retaken")
			return true
		case err == nil:
			e.log.WarnContext(ctx, "leader election: PostgreSQL is back and another scheduler leads")
			return false
		case !postgres.IsUnavailable(err):
			e.log.WarnContext(ctx, "leader election: retake the lock", "err", err)
			e.drop()
			return false
		}
		e.drop()
	}
}

// drop closes a connection that is broken or no longer trusted.
func (e *elector) drop() {
	if e.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := e.conn.Close(ctx); err != nil {
		e.log.Debug("leader election: close", "err", err)
	}
	e.conn = nil
}

// release gives the lock back at shutdown, so that a standby takes over at its next attempt
// rather than when PostgreSQL notices the closed session.
func (e *elector) release() {
	wasLeader := e.leading.Load()
	e.set(false)
	if e.conn == nil {
		return
	}
	if wasLeader {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := e.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, int32(lockClass)); err != nil {
			e.log.Warn("leader election: unlock", "err", err)
		}
		cancel()
	}
	e.drop()
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
