package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SchedulerLease is the first key of the scheduler leader's advisory lock ("VGSC"). The
// second is a hash of the connection's schema, so that installs (and tests) sharing one
// database in different schemas elect their leaders independently. tern's migration lock uses
// a one-key lock and cannot collide with this two-key one. Another lease (a shard of the
// schedule) takes another first key.
const SchedulerLease int32 = 0x56475343

// errNoSession is returned by a lock asked about a session it has not opened.
var errNoSession = errors.New("postgres: advisory lock: no session")

// AdvisoryLock is one session-level advisory lock held on a dedicated connection. PostgreSQL
// frees it when the session ends, so a holder that dies (or whose connection drops) lets
// another in at its next attempt, with no lease to expire. It implements leadership.Lock and,
// like the elector that drives it, is not safe for concurrent use.
type AdvisoryLock struct {
	db    *DB
	p     SessionParams
	lease int32
	conn  *pgx.Conn
}

// AdvisoryLock returns the lock of lease (e.g. SchedulerLease) in the connection's schema,
// held by a session named by p. It opens no connection until Connect.
func (db *DB) AdvisoryLock(lease int32, p SessionParams) *AdvisoryLock {
	return &AdvisoryLock{db: db, p: p, lease: lease}
}

// Connect opens the lock's session if it has none.
func (l *AdvisoryLock) Connect(ctx context.Context) error {
	if l.conn != nil {
		return nil
	}
	conn, err := l.db.connect(ctx, l.p)
	if err != nil {
		return err
	}
	l.conn = conn
	return nil
}

// TryAcquire tries once to take the lock, without waiting for it.
func (l *AdvisoryLock) TryAcquire(ctx context.Context) (bool, error) {
	if l.conn == nil {
		return false, errNoSession
	}
	var won bool
	err := l.conn.QueryRow(ctx,
		`SELECT pg_try_advisory_lock($1, hashtext(current_schema()))`, l.lease).Scan(&won)
	if err != nil {
		return false, err
	}
	return won, nil
}

// Held reports whether the session still holds the lock. A session that does not answer is
// an error, which IsUnavailable tells from a refused query.
func (l *AdvisoryLock) Held(ctx context.Context) (bool, error) {
	if l.conn == nil {
		return false, errNoSession
	}
	var held bool
	err := l.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
		AND pid = pg_backend_pid() AND classid = $1::int::oid AND objid = hashtext(current_schema())::oid
		AND objsubid = 2 AND granted)`, l.lease).Scan(&held)
	return held, err
}

// Release gives the lock back, so that another process takes it at its next attempt rather
// than when PostgreSQL notices a closed session. The session stays open.
func (l *AdvisoryLock) Release(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, l.lease); err != nil {
		return fmt.Errorf("postgres: advisory unlock: %w", err)
	}
	return nil
}

// Close ends the session, and with it the lock if it was held. It is also how a session that
// is broken or no longer trusted is dropped; the next Connect opens a new one.
func (l *AdvisoryLock) Close() error {
	if l.conn == nil {
		return nil
	}
	err := closeConn(l.conn)
	l.conn = nil
	return err
}

// Unavailable reports whether err means that PostgreSQL could not be reached, rather than
// that it refused: the holder may then keep acting on its last word.
func (l *AdvisoryLock) Unavailable(err error) bool { return IsUnavailable(err) }
