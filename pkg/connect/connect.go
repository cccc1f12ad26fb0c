// Package connect opens the store clients Vigil's binaries use, from their configuration, the
// same way in every binary: PostgreSQL migrated under tern's advisory lock before the pool
// opens, Redis with context deadlines honoured by blocking stream reads, InfluxDB through the
// v2 client that speaks to both 2.x and 1.8.
package connect

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// DefaultConnectTimeout bounds each new PostgreSQL connection when DATABASE_URL sets no
// connect_timeout. Without one, a server that accepts TCP and then says nothing (hung, or
// behind a black-holing network) makes every request that needs a new connection wait forever
// instead of failing with 503.
const DefaultConnectTimeout = 5 * time.Second

// Postgres applies the embedded migrations (replicas that start together take turns under the
// advisory lock) and opens a pool. Connections time out after DefaultConnectTimeout unless
// DATABASE_URL says otherwise.
func Postgres(ctx context.Context, cfg config.Postgres) (*pgxpool.Pool, error) {
	dsn := WithConnectTimeout(cfg.DatabaseURL, DefaultConnectTimeout)
	if err := postgres.MigrateURL(ctx, dsn); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return pool, nil
}

// WithConnectTimeout adds connect_timeout (whole seconds) to a PostgreSQL URL or keyword/value
// connection string that has none.
func WithConnectTimeout(dsn string, d time.Duration) string {
	secs := strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	if strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn // pgx reports it
		}
		q := u.Query()
		q.Set("connect_timeout", secs)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn + " connect_timeout=" + secs)
}

// Redis returns a client for REDIS_URL. ContextTimeoutEnabled is on: without it a blocked
// XREADGROUP ignores its context, and a stop would wait for the block to end.
func Redis(cfg config.Redis) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}

// Stores opens PostgreSQL (migrated) and Redis, the two stores of the scheduler and the
// notifier. closeAll closes Redis and then the pool, the last steps of their shutdown order.
func Stores(ctx context.Context, pg config.Postgres, rd config.Redis, log *slog.Logger) (pool *pgxpool.Pool, rdb *redis.Client, closeAll func(), err error) {
	if pool, err = Postgres(ctx, pg); err != nil {
		return nil, nil, nil, err
	}
	if rdb, err = Redis(rd); err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	return pool, rdb, func() { CloseRedis(rdb, log); pool.Close() }, nil
}

// CloseRedis closes rdb, logging a failure: at shutdown there is no one left to return it to.
func CloseRedis(rdb redis.UniversalClient, log *slog.Logger) {
	if err := rdb.Close(); err != nil {
		log.Warn("redis: close", "err", err)
	}
}

// Influx returns an InfluxDB client for INFLUXDB_URL and INFLUXDB_TOKEN.
func Influx(cfg config.Influx) influxdb2.Client {
	return influxdb2.NewClient(cfg.InfluxURL, cfg.InfluxToken)
}

// Check is one store a role needs to be ready, by name.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// PostgresCheck and RedisCheck are the readiness checks of the two stores most roles need.
func PostgresCheck(pool *pgxpool.Pool) Check { return Check{"postgres", pool.Ping} }

// RedisCheck reports whether Redis answers PING.
func RedisCheck(rdb redis.UniversalClient) Check {
	return Check{"redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
}

// Ready returns a readiness function for metrics.Serve's /readyz: the first failing check, named.
func Ready(checks ...Check) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, c := range checks {
			if err := c.Ping(ctx); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		return nil
	}
}
