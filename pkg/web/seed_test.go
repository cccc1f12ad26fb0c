package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/httpapi"
	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// influxURL is the local stack's InfluxDB 1.8; VIGIL_TEST_INFLUXDB_URL overrides it.
func influxURL() string {
	if u := os.Getenv("VIGIL_TEST_INFLUXDB_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:8086"
}

// influxBucket is a database of its own: InfluxDB 1.8 refuses new tag values past
// max-values-per-tag (100,000 by default) per database, and every test of the project writes
// new website ids into "vigil".
const influxBucket = "vigil_web_test/autogen"

func createInfluxDB(tb testing.TB) {
	tb.Helper()
	resp, err := http.PostForm(influxURL()+"/query", url.Values{"q": {"CREATE DATABASE vigil_web_test"}})
	require.NoError(tb, err)
	require.NoError(tb, resp.Body.Close())
	require.Equal(tb, http.StatusOK, resp.StatusCode)
}

// stack is the real API (with the dashboard) on its own schema, in front of the real InfluxDB.
type stack struct {
	pool   *pgxpool.Pool
	http   *httptest.Server
	key    string
	influx influxdb2.Client
}

func newStack(tb testing.TB) *stack {
	tb.Helper()
	pool := pgtest.Pool(tb)
	createInfluxDB(tb)
	client := influxdb2.NewClient(influxURL(), "")
	tb.Cleanup(client.Close)
	srv, err := httpapi.New(httpapi.Params{
		DB:     postgres.NewDB(pool),
		Logger: slog.New(slog.DiscardHandler),
		Checks: influxdb.NewReader(client.QueryAPI(""), influxBucket, nil),
	})
	require.NoError(tb, err)
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)
	_, key, err := postgres.NewAPIKeyStore(pool).Create(context.Background(), "web-test")
	require.NoError(tb, err)
	return &stack{pool: pool, http: hs, key: key, influx: client}
}

// api calls the REST API with the stack's key and returns the status and body.
func (s *stack) api(tb testing.TB, method, path, body string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, strings.NewReader(body))
	require.NoError(tb, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Client().Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return resp.StatusCode, string(b)
}

// history writes check results of one website as the worker would: for each region, hourly
// over the past days and every five minutes over the last span. outcome decides each check
// from its time; response times vary around base with some noise and the odd spike.
func (s *stack) history(tb testing.TB, websiteID string, regions []string, days int, span, base time.Duration,
	outcome func(at time.Time, region string) (monitor.Outcome, int)) {
	tb.Helper()
	now := time.Now().UTC()
	var lines []string
	add := func(at time.Time) {
		for ri, region := range regions {
			o, code := outcome(at, region)
			h := uint64(at.Unix()/60)*2654435761 + uint64(ri)*40503
			h ^= h >> 13
			noise := float64(h%1000) / 1000
			total := time.Duration(float64(base) * (0.8 + 0.45*noise + 0.3*float64(ri)))
			if h%53 == 0 {
				total *= 3
			}
			r := monitor.Result{WebsiteID: websiteID, Region: region, At: at, Outcome: o, StatusCode: code,
				Phases: monitor.Phases{DNS: total / 12, Connect: total / 8, TLS: total / 4, TTFB: total * 3 / 4, Total: total}}
			if o == monitor.OutcomeTimeout {
				r.Phases = monitor.Phases{Total: 10 * time.Second}
				r.Reason, r.Message = "timeout", "no response within 10s"
			}
			lines = append(lines, influxdb.Line(r))
		}
	}
	for at := now.Add(-time.Duration(days) * 24 * time.Hour); at.Before(now.Add(-span)); at = at.Add(time.Hour) {
		add(at)
	}
	for at := now.Add(-span); !at.After(now); at = at.Add(5 * time.Minute) {
		add(at)
	}
	w := s.influx.WriteAPIBlocking("", influxBucket)
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		require.NoError(tb, w.WriteRecord(context.Background(), lines[:n]...))
		lines = lines[n:]
	}
}

// exec runs SQL on the stack's schema.
func (s *stack) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	_, err := s.pool.Exec(context.Background(), sql, args...)
	require.NoError(tb, err)
}

// regionState stores a confirmed state as the notifier would.
func (s *stack) regionState(tb testing.TB, websiteID, region, state string) {
	tb.Helper()
	s.exec(tb, `INSERT INTO region_states (website_id, region, state, since) VALUES ($1, $2, $3, now())
		ON CONFLICT (website_id, region) DO UPDATE SET state = EXCLUDED.state, since = now()`, websiteID, region, state)
}

// incident stores an incident and its regional downtime, as the notifier would; end nil is open.
func (s *stack) incident(tb testing.TB, websiteID string, regions []string, start time.Time, end *time.Time, outcome, reason string, code int) {
	tb.Helper()
	var id string
	err := s.pool.QueryRow(context.Background(), `INSERT INTO incidents (website_id, started_at, ended_at, outcome, reason, status_code, regions)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, websiteID, start, end, outcome, reason, code, regions).Scan(&id)
	require.NoError(tb, err)
	for _, r := range regions {
		s.exec(tb, `INSERT INTO region_downtimes (website_id, region, incident_id, started_at, ended_at, outcome, reason, status_code)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, websiteID, r, id, start, end, outcome, reason, code)
	}
}

func ptr[T any](v T) *T { return &v }
