package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// This file is what the sections share to set themselves up: their stores, their websites and
// the roles they run.

// need says which stores a section works in.
type need struct{ postgres, redis, influx bool }

// sectionStores are the stores of one section, under names of the run's own; a store the
// section did not ask for is empty.
type sectionStores struct {
	section string
	dbURL   string    // a migrated PostgreSQL database
	conn    *pgx.Conn // a connection to it, whose database holds the bench region
	prefix  string    // a Redis key prefix
	bucket  string    // an InfluxDB database, as db/autogen
	drops   []func() error
}

// influxDB is the InfluxDB database of the bucket, for InfluxQL.
func (st *sectionStores) influxDB() string {
	db, _, _ := strings.Cut(st.bucket, "/")
	return db
}

// openStores creates the stores a section needs, named for purpose, with the bench region in
// its database; closeStores drops them.
func (b *bench) openStores(ctx context.Context, section, purpose string, n need) (_ *sectionStores, err error) {
	st := &sectionStores{section: section}
	defer func() {
		if err != nil {
			b.closeStores(st)
		}
	}()
	if n.postgres {
		var drop func() error
		if st.dbURL, drop, err = b.st.database(ctx, purpose); err != nil {
			return nil, err
		}
		st.drops = append(st.drops, drop)
		if st.conn, err = pgx.Connect(ctx, st.dbURL); err != nil {
			return nil, err
		}
		st.drops = append(st.drops, closeConn(st.conn))
		if _, err := st.conn.Exec(ctx, `INSERT INTO regions (name) VALUES ($1)`, benchRegion); err != nil {
			return nil, err
		}
	}
	if n.redis {
		var drop func() error
		st.prefix, drop = b.st.redisPrefix(purpose)
		st.drops = append(st.drops, drop)
	}
	if n.influx {
		var drop func() error
		if st.bucket, drop, err = b.st.influxDB(ctx, purpose); err != nil {
			return nil, err
		}
		st.drops = append(st.drops, drop)
	}
	return st, nil
}

// closeWith adds something the section made on its stores (a connection, a server, a role) to
// what closeStores closes; it is closed before what was there when it was added.
func (st *sectionStores) closeWith(drop func() error) { st.drops = append(st.drops, drop) }

// closeStores drops a section's stores in the reverse order of their making.
func (b *bench) closeStores(st *sectionStores) {
	for i := len(st.drops) - 1; i >= 0; i-- {
		b.cleanup(st.section, st.drops[i])
	}
}

// env is what a role needs to work in these stores.
func (st *sectionStores) env(o options) []string {
	env := []string{"REDIS_URL=" + o.redisURL}
	if st.dbURL != "" {
		env = append(env, "DATABASE_URL="+st.dbURL)
	}
	if st.prefix != "" {
		env = append(env, "VIGIL_REDIS_PREFIX="+st.prefix)
	}
	if st.bucket != "" {
		env = append(env, "INFLUXDB_URL="+o.influx, "INFLUXDB_BUCKET="+st.bucket, "INFLUXDB_TOKEN=")
	}
	return env
}

// copyWebsites inserts websites ids[from:to] with COPY, website i named site-i at
// https://site-i.example/, checked every intervalS seconds, and with timeoutMS > 0 that timeout.
func copyWebsites(ctx context.Context, conn *pgx.Conn, ids []uuid.UUID, from, to int, intervalS, timeoutMS int32) error {
	cols := []string{"id", "name", "url", "interval_seconds"}
	if timeoutMS > 0 {
		cols = append(cols, "timeout_ms")
	}
	i := from
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"websites"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i >= to {
			return nil, nil
		}
		row := []any{ids[i], "site-" + strconv.Itoa(i), "https://site-" + strconv.Itoa(i) + ".example/", intervalS}
		if timeoutMS > 0 {
			row = append(row, timeoutMS)
		}
		i++
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("copy websites: %w", err)
	}
	return nil
}

// role is how a section runs one of Vigil's binaries.
type role struct {
	name, bin string
	stores    *sectionStores
	env       []string // beyond the stores'
	// addrVar takes a fresh loopback address: VIGIL_METRICS_ADDR, or API_ADDR for the api.
	addrVar string
	// ready is the path on that address that answers 200 once the role is ready, within the
	// time given; without one, startRole does not wait.
	ready  string
	within time.Duration
	onLine func(string) // sees each line of the role's stderr, if set
}

// startRole starts a role and waits until it is ready; one that does not get ready is stopped.
// It returns the process and the address the role serves on.
func (b *bench) startRole(ctx context.Context, r role) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	env := append(r.stores.env(b.o), r.addrVar+"="+addr)
	p, err := startProc(r.name, r.bin, nil, append(env, r.env...), b.logDir, r.onLine)
	if err != nil {
		return nil, "", err
	}
	if r.ready == "" {
		return p, addr, nil
	}
	if err := waitHTTP(ctx, p, "http://"+addr+r.ready, r.within); err != nil {
		return nil, "", errors.Join(err, p.stop(10*time.Second))
	}
	return p, addr, nil
}
