package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-monitor/vigil/pkg/loop"
)

// Listener holds a LISTEN connection on MonitorsChannel, reconnecting after a failure, and
// passes each notification's payload on. It owns its dedicated connection.
type Listener struct {
	db  *DB
	p   SessionParams
	log *slog.Logger
}

// Listener returns a Listener on MonitorsChannel whose connection is named by p.
func (db *DB) Listener(p SessionParams, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{db: db, p: p, log: log}
}

// Listen holds the LISTEN until ctx ends. It calls listening after every LISTEN that succeeds,
// with again false the first time: notifications sent while the connection was down are lost,
// so after a reconnect the caller reloads what it may have missed. It calls notify with each
// payload, in order, from one goroutine. Failed connects back off from 100 ms, doubling to
// 10 s.
func (l *Listener) Listen(ctx context.Context, listening func(again bool), notify func(payload string)) {
	first := true
	b := loop.Backoff{Base: 100 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		conn, err := l.db.connect(ctx, l.p)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{MonitorsChannel}.Sanitize()); err != nil {
				l.close(conn)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				delay := b.Next()
				l.log.WarnContext(ctx, "postgres: listen", "err", err, "retry_in", delay)
				loop.Sleep(ctx, delay)
			}
			continue
		}
		b.Reset()
		listening(!first)
		first = false
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.log.WarnContext(ctx, "postgres: wait for notification", "err", err)
				}
				break
			}
			notify(n.Payload)
		}
		l.close(conn)
	}
}

func (l *Listener) close(conn *pgx.Conn) {
	if err := closeConn(conn); err != nil {
		l.log.Debug("postgres: close the listen connection", "err", err)
	}
}
