package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is the PostgreSQL adapter as the services see it: it holds the pool and hands out the
// stores, the LISTEN connection and the leader locks, so that no package but this one needs
// pgx. Stores are cheap values over the shared pool; building one per use is fine.
type DB struct {
	pool *pgxpool.Pool
}

// NewDB returns the adapter on pool. The caller owns the pool and closes it after the services
// that use the DB have stopped.
func NewDB(pool *pgxpool.Pool) *DB { return &DB{pool: pool} }

// Ping checks that PostgreSQL answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Websites returns the website store.
func (db *DB) Websites() *WebsiteStore { return NewWebsiteStore(db.pool) }

// Regions returns the region store.
func (db *DB) Regions() *RegionStore { return NewRegionStore(db.pool) }

// APIKeys returns the API key store.
func (db *DB) APIKeys() *APIKeyStore { return NewAPIKeyStore(db.pool) }

// Sessions returns the dashboard session store.
func (db *DB) Sessions() *SessionStore { return NewSessionStore(db.pool) }

// Overview returns the dashboard overview store.
func (db *DB) Overview() *OverviewStore { return NewOverviewStore(db.pool) }

// StatusPages returns the status page store.
func (db *DB) StatusPages() *StatusPageStore { return NewStatusPageStore(db.pool) }

// Downtimes returns the regional downtime store.
func (db *DB) Downtimes() *DowntimeStore { return NewDowntimeStore(db.pool) }

// Incidents returns the incident store.
func (db *DB) Incidents() *IncidentStore { return NewIncidentStore(db.pool) }

// Outbox returns the notification outbox store.
func (db *DB) Outbox() *OutboxStore { return NewOutboxStore(db.pool) }

// Pairs returns the scheduler's (website, region) pair store.
func (db *DB) Pairs() *PairStore { return NewPairStore(db.pool) }

// Alerts returns the store of the notifier's transactions.
func (db *DB) Alerts() *AlertStore { return NewAlertStore(db.pool) }

// SessionParams name a dedicated connection (LISTEN, a leader lock).
type SessionParams struct {
	// ApplicationName is shown in pg_stat_activity, so that an operator can tell which
	// process holds a lock or listens.
	ApplicationName string
	// Keepalive makes the server probe the connection every few seconds, so that a process
	// cut off by the network (not dead, so no RST) loses its session, and what it holds, in
	// about 11 s instead of the OS defaults' hours.
	Keepalive bool
}

// connect opens a dedicated connection with the pool's settings: a session-level LISTEN or
// advisory lock cannot live on a pooled connection that other queries share.
func (db *DB) connect(ctx context.Context, p SessionParams) (*pgx.Conn, error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if p.ApplicationName != "" {
		cfg.RuntimeParams["application_name"] = p.ApplicationName
	}
	if p.Keepalive {
		// Keepalives on the server side of the session bound a silent peer to about 11 s
		// (5 s idle, then 3 probes 2 s apart).
		cfg.RuntimeParams["tcp_keepalives_idle"] = "5"
		cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
		cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect %q: %w", p.ApplicationName, err)
	}
	return conn, nil
}

// closeConn closes a dedicated connection within a second, whatever state it is in.
func closeConn(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return conn.Close(ctx)
}
