package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MonitorsChannel is the LISTEN/NOTIFY channel on which every change to a website or a region
// is announced, so that the scheduler picks it up at once instead of at its next resync. The
// payload is the changed website's id, or NotifyAll.
const MonitorsChannel = "vigil_monitors"

// NotifyAll is the payload sent on MonitorsChannel when a change may touch every website (a
// region was added, renamed or removed): the listener reloads everything.
const NotifyAll = "*"

// notifyMonitors queues a notification in tx. PostgreSQL delivers it only if tx commits, so a
// listener never hears of a change it cannot yet read.
func notifyMonitors(ctx context.Context, tx pgx.Tx, payload string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", MonitorsChannel, payload); err != nil {
		return fmt.Errorf("postgres: notify %s: %w", MonitorsChannel, err)
	}
	return nil
}
