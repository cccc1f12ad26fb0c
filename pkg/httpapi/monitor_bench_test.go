package httpapi

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/status"
)

// benchAPI is the API on a fresh schema and the real InfluxDB, served over HTTP.
type benchAPI struct {
	url, key string
	srv      *Server
	checks   *influxdb.Reader
	pool     *pgxpool.Pool
}

func newBenchAPI(b *testing.B) *benchAPI {
	b.Helper()
	pool := pgtest.Pool(b)
	checks := monitorTestReader(monitorTestInflux(b))
	srv, err := New(Params{DB: postgres.NewDB(pool), Logger: slog.New(slog.DiscardHandler), Checks: checks})
	require.NoError(b, err)
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	_, key, err := postgres.NewAPIKeyStore(pool).Create(context.Background(), "bench")
	require.NoError(b, err)
	_, err = pool.Exec(context.Background(), `INSERT INTO regions (name) VALUES ('europe')`)
	require.NoError(b, err)
	return &benchAPI{url: hs.URL, key: key, srv: srv, checks: checks, pool: pool}
}

// get runs path b.N times and reports the median latency next to ns/op.
func (a *benchAPI) get(b *testing.B, path string) {
	b.Helper()
	client := &http.Client{}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
		require.NoError(b, err)
		req.Header.Set("Authorization", "Bearer "+a.key)
		resp, err := client.Do(req)
		require.NoError(b, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(b, err)
		require.NoError(b, resp.Body.Close())
		require.Equal(b, http.StatusOK, resp.StatusCode)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50_ms")
}

// BenchmarkMonitorSeries30Days is GET /monitor/:id?days=30 (and the uptime and breakdown of
// the same website) on 30 days of 1-minute checks of one website in one region (43,200 points).
func BenchmarkMonitorSeries30Days(b *testing.B) {
	a := newBenchAPI(b)
	ctx := context.Background()
	var id string
	err := a.pool.QueryRow(ctx, `INSERT INTO websites (name, url, interval_seconds)
		VALUES ('bench', 'https://example.com', 60) RETURNING id`).Scan(&id)
	require.NoError(b, err)
	now := time.Now()
	rs := make([]result, 0, 43200)
	for i := range 43200 {
		rs = append(rs, result{ago: time.Duration(i) * time.Minute, region: "europe", outcome: monitor.OutcomeUp,
			response: float64(50 + i%200), status: 200})
	}
	writeResults(b, monitorTestInflux(b), id, now, rs...)
	b.Cleanup(func() { dropSeries(b, []string{id}) })
	b.Run("series", func(b *testing.B) { a.get(b, "/monitor/"+id+"?days=30") })
	b.Run("series-region", func(b *testing.B) { a.get(b, "/monitor/"+id+"?days=30&region=europe") })
	b.Run("uptime", func(b *testing.B) { a.get(b, "/monitor/"+id+"/uptime") })
	b.Run("breakdown", func(b *testing.B) { a.get(b, "/monitor/"+id+"/breakdown?days=30") })
}

// BenchmarkMonitorList10k is GET /monitor (the default page of 50, and a page of 500) and
// GET /api/status with 10,000 websites in PostgreSQL, each checked every 3 minutes in one
// region. Only the websites of the pages asked for have checks in InfluxDB (the last 15
// minutes), so that each run adds 500 values, not 10,000, to the website_id tag, which 1.8
// limits to 100,000 values by default; they are dropped again at the end.
func BenchmarkMonitorList10k(b *testing.B) {
	a := newBenchAPI(b)
	ctx := context.Background()
	_, err := a.pool.Exec(ctx, `INSERT INTO websites (name, url, interval_seconds)
		SELECT 'site-' || i, 'https://example.com/' || i, 180 FROM generate_series(1, 10000) i`)
	require.NoError(b, err)
	rows, err := a.pool.Query(ctx, `SELECT id FROM websites ORDER BY created_at, id LIMIT 500`)
	require.NoError(b, err)
	var ids []string
	for rows.Next() {
		var id uuid.UUID
		require.NoError(b, rows.Scan(&id))
		ids = append(ids, id.String())
	}
	require.NoError(b, rows.Err())
	require.Len(b, ids, 500)
	now := time.Now()
	points := make([]*write.Point, 0, 5*len(ids))
	for _, id := range ids {
		for k := range 5 {
			points = append(points, write.NewPoint("check", map[string]string{"website_id": id, "region": "europe"},
				map[string]any{"response_ms": 80.0, "status_code": int64(200), "up": true, "outcome": "up", "reason": "", "error": ""},
				now.Add(-time.Duration(k*3)*time.Minute-time.Second)))
		}
	}
	b.Cleanup(func() { dropSeries(b, ids) })
	require.NoError(b, monitorTestInflux(b).WriteAPIBlocking("vigil", monitorTestBucket).WritePoint(ctx, points...))
	b.Run("limit=50", func(b *testing.B) { a.get(b, "/monitor") })
	b.Run("limit=500", func(b *testing.B) { a.get(b, "/monitor?limit=500") })
	b.Run("api-status-limit=50", func(b *testing.B) { a.get(b, "/api/status") })

	// The same pages with the latest checks in Redis, as the workers leave them.
	rdb, keys := latestTestRedis(b)
	states := queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: "europe"})
	var cs []queue.Completion
	for i, id := range ids {
		r := monitor.Result{WebsiteID: id, Region: "europe", At: now.Add(-time.Second), Outcome: monitor.OutcomeUp, StatusCode: 200,
			Phases: monitor.Phases{Total: 80 * time.Millisecond}}
		cs = append(cs, queue.Completion{Now: r.At, Result: r, Delivery: queue.Delivery{ID: "1-" + strconv.Itoa(i+1),
			Job: monitor.Job{WebsiteID: id, Region: "europe", DueAt: r.At.UnixMilli()}}})
	}
	_, err = states.Complete(ctx, cs)
	require.NoError(b, err)
	replaceViews(a.srv, a.checks, func(p *status.Params) { p.LastChecks = queue.NewLastChecks(rdb, keys) })
	b.Run("redis/limit=50", func(b *testing.B) { a.get(b, "/monitor") })
	b.Run("redis/limit=500", func(b *testing.B) { a.get(b, "/monitor?limit=500") })
}

// dropSeries removes the series of websites with InfluxQL, which only 1.8 speaks; elsewhere it
// logs and leaves them.
func dropSeries(b *testing.B, ids []string) {
	q := `DROP SERIES FROM "check" WHERE "website_id" =~ /^(?:` + strings.Join(ids, "|") + `)$/`
	u := cmp.Or(os.Getenv("VIGIL_TEST_INFLUXDB_URL"), "http://127.0.0.1:8086")
	resp, err := http.PostForm(u+"/query", url.Values{"db": {"vigil"}, "q": {q}})
	if err != nil {
		b.Logf("drop series: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Logf("drop series: %s", resp.Status)
	}
}
