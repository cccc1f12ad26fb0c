package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// sectionNames are the harness's sections, in the order they run.
var sectionNames = []string{"worker", "scheduler", "detection", "api"}

// options are the harness's command line.
type options struct {
	smoke    bool
	out      string
	binDir   string
	logDir   string
	root     string
	sections []string
	pgURL    string
	redisURL string
	influx   string
	command  string
}

func parseOptions(args []string, stdout, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("vigil-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.BoolVar(&o.smoke, "smoke", false, "tiny sizes: checks that every section still runs, in seconds")
	fs.StringVar(&o.out, "out", "docs/benchmarks.md", "where the report goes")
	fs.StringVar(&o.binDir, "bin", "", "directory with worker, scheduler, api and notifier already built (default: build them)")
	fs.StringVar(&o.logDir, "logs", "", "where the processes' logs go (default .stack/bench/RUN)")
	sections := fs.String("sections", strings.Join(sectionNames, ","), "sections to run")
	fs.StringVar(&o.pgURL, "database-url", cmp.Or(os.Getenv("VIGIL_BENCH_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/vigil?sslmode=disable"),
		"PostgreSQL to create the run's databases in")
	fs.StringVar(&o.redisURL, "redis-url", cmp.Or(os.Getenv("VIGIL_BENCH_REDIS_URL"), "redis://127.0.0.1:6379/0"), "Redis")
	fs.StringVar(&o.influx, "influxdb-url", cmp.Or(os.Getenv("VIGIL_BENCH_INFLUXDB_URL"), "http://127.0.0.1:8086"), "InfluxDB 1.8")
	var usageErr error
	fs.Usage = func() {
		var b strings.Builder
		b.WriteString("usage: vigil-bench [flags]\n\nRuns issue 8's benchmarks against the local stack (scripts/stack up) and writes the report. Flags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(stdout)
		_, usageErr = io.WriteString(stdout, b.String())
	}
	if err := fs.Parse(args); err != nil {
		return o, errors.Join(err, usageErr)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	for _, s := range strings.Split(*sections, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(sectionNames, s) {
			return o, fmt.Errorf("-sections: unknown section %q (have %s)", s, strings.Join(sectionNames, ", "))
		}
		o.sections = append(o.sections, s)
	}
	root, err := repoRoot()
	if err != nil {
		return o, err
	}
	o.root = root
	o.command = "vigil-bench " + strings.Join(args, " ")
	return o, nil
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run vigil-bench inside the repository (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// bins are the paths of the binaries the harness runs.
type bins struct{ worker, scheduler, api, notifier string }

// buildBinaries builds Vigil's four roles into dir with the go command, unless -bin named
// a directory that already has them.
func buildBinaries(ctx context.Context, o options, dir string) (bins, error) {
	b := bins{}
	src := dir
	if o.binDir != "" {
		src = o.binDir
	} else {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
			"./cmd/worker", "./cmd/scheduler", "./cmd/api", "./cmd/notifier")
		cmd.Dir = o.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build: %w: %s", err, out)
		}
	}
	b = bins{
		worker:    filepath.Join(src, "worker"),
		scheduler: filepath.Join(src, "scheduler"),
		api:       filepath.Join(src, "api"),
		notifier:  filepath.Join(src, "notifier"),
	}
	for _, p := range []string{b.worker, b.scheduler, b.api, b.notifier} {
		if _, err := os.Stat(p); err != nil {
			return b, fmt.Errorf("binary %s: %w", p, err)
		}
	}
	return b, nil
}

// stack is the run's handle on the local stores, and the names it created in them.
type stack struct {
	o     options
	runID string
	rdb   *redis.Client
}

func newStack(ctx context.Context, o options) (*stack, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	s := &stack{o: o, runID: hex.EncodeToString(b[:]), rdb: redis.NewClient(ropts)}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis at %s (is the stack up? scripts/stack up): %w", o.redisURL, err)
	}
	return s, nil
}

func (s *stack) close() error {
	return s.rdb.Close()
}

// name is a store name unique to this run and purpose, e.g. vigil_bench_1a2b3c4d_sched.
func (s *stack) name(purpose string) string { return "vigil_bench_" + s.runID + "_" + purpose }

// database creates a PostgreSQL database of the run's own, migrated, and returns its URL; it is
// dropped when the section's cleanup runs. A database rather than a schema, so that the NOTIFYs
// of other test runs on the shared database do not reach the scheduler being measured.
func (s *stack) database(ctx context.Context, purpose string) (string, func() error, error) {
	name := s.name(purpose)
	admin, err := pgx.Connect(ctx, s.o.pgURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres at %s (is the stack up? scripts/stack up): %w", s.o.pgURL, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, errors.Join(fmt.Errorf("postgres: create database %s: %w", name, err), admin.Close(ctx))
	}
	drop := func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return errors.Join(err, admin.Close(dctx))
	}
	u, err := url.Parse(s.o.pgURL)
	if err != nil {
		return "", nil, errors.Join(err, drop())
	}
	u.Path = "/" + name
	if err := postgres.MigrateURL(ctx, u.String()); err != nil {
		return "", nil, errors.Join(err, drop())
	}
	return u.String(), drop, nil
}

// redisPrefix is a key prefix of the run's own; the cleanup deletes every key under it.
func (s *stack) redisPrefix(purpose string) (string, func() error) {
	prefix := s.name(purpose)
	return prefix, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		iter := s.rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := s.rdb.Unlink(ctx, batch...).Err()
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := flush(); err != nil {
					return fmt.Errorf("redis: unlink %s:*: %w", prefix, err)
				}
			}
		}
		return errors.Join(iter.Err(), flush())
	}
}

// influxDB creates an InfluxDB 1.8 database of the run's own and returns its bucket name
// (db/autogen) and the cleanup that drops it.
func (s *stack) influxDB(ctx context.Context, purpose string) (string, func() error, error) {
	db := s.name(purpose)
	if err := s.influxQL(ctx, "CREATE DATABASE "+db); err != nil {
		return "", nil, err
	}
	return db + "/autogen", func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return s.influxQL(dctx, "DROP DATABASE "+db)
	}, nil
}

// influxQL runs a statement through 1.8's /query endpoint.
func (s *stack) influxQL(ctx context.Context, q string) error {
	_, err := s.influxQuery(ctx, "", q)
	return err
}

// influxQuery runs an InfluxQL query against db and returns the response body.
func (s *stack) influxQuery(ctx context.Context, db, q string) (_ []byte, err error) {
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.influx+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influxdb at %s (is the stack up? scripts/stack up): %w", s.o.influx, err)
	}
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("influxdb: %s: %w", q, err)
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
		return nil, fmt.Errorf("influxdb: %s: %s %s", q, resp.Status, body)
	}
	return body, nil
}

// influxCount is the number of values of field in the check measurement of db.
func (s *stack) influxCount(ctx context.Context, db, field string) (int64, error) {
	body, err := s.influxQuery(ctx, db, `SELECT count("`+field+`") FROM "check"`)
	if err != nil {
		return 0, err
	}
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]json.Number `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	// The time column is a string; decode it as a number field and ignore it.
	body = bytes.Replace(body, []byte(`"1970-01-01T00:00:00Z"`), []byte(`0`), 1)
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("influxdb: count: %w: %s", err, body)
	}
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return 0, nil
	}
	v := r.Results[0].Series[0].Values[0]
	if len(v) < 2 {
		return 0, nil
	}
	return v[1].Int64()
}
