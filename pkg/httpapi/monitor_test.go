package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/status"
)

const monitorTestBucket = "vigil/autogen"

// monitorTestInflux is a client of the local stack's InfluxDB 1.8 (VIGIL_TEST_INFLUXDB_URL
// overrides it). Tests keep apart by writing under website ids that only they use.
func monitorTestInflux(t testing.TB) influxdb2.Client {
	t.Helper()
	u := os.Getenv("VIGIL_TEST_INFLUXDB_URL")
	if u == "" {
		u = "http://127.0.0.1:8086"
	}
	c := influxdb2.NewClient(u, "")
	t.Cleanup(c.Close)
	return c
}

// replaceViews gives srv status views on its own PostgreSQL adapter and checks, with the params that mutate
// sets (a clock, a Redis, a cache), as newViews would build them from Params.
func replaceViews(srv *Server, checks status.CheckReader, mutate func(*status.Params)) {
	p := status.Params{Checks: checks, States: srv.db.Overview(), Downtimes: srv.db.Downtimes()}
	mutate(&p)
	srv.views = status.New(p)
}

// monitorTestReader reads the test bucket of influx.
func monitorTestReader(influx influxdb2.Client) *influxdb.Reader {
	return influxdb.NewReader(influx.QueryAPI("vigil"), monitorTestBucket, nil)
}

// newMonitorTestAPI is an API whose monitoring routes read the real InfluxDB, with regions
// europe and asia.
func newMonitorTestAPI(t *testing.T) (*testAPI, influxdb2.Client) {
	t.Helper()
	influx := monitorTestInflux(t)
	a := newTestAPI(t, func(p *Params) {
		p.Checks = monitorTestReader(influx)
	})
	a.mustCreate("/regions", `{"name":"europe"}`)
	a.mustCreate("/regions", `{"name":"asia"}`)
	return a, influx
}

// result is one check as the worker writes it.
type result struct {
	ago      time.Duration
	region   string
	outcome  monitor.Outcome
	response float64
	status   int
}

func writeResults(t testing.TB, influx influxdb2.Client, websiteID string, now time.Time, rs ...result) {
	t.Helper()
	points := make([]*write.Point, 0, len(rs))
	for _, r := range rs {
		points = append(points, write.NewPoint("check",
			map[string]string{"website_id": websiteID, "region": r.region},
			map[string]any{
				"response_ms": r.response, "dns_ms": 1.0, "connect_ms": 2.0, "tls_ms": 3.0, "ttfb_ms": r.response / 2,
				"status_code": int64(r.status), "up": r.outcome.Available(), "outcome": string(r.outcome),
				"reason": "", "error": "",
			}, now.Add(-r.ago)))
	}
	w := influx.WriteAPIBlocking("vigil", monitorTestBucket)
	for len(points) > 0 {
		n := min(len(points), 5000)
		require.NoError(t, w.WritePoint(context.Background(), points[:n]...))
		points = points[n:]
	}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.Raw, &v), "body: %s", r.Raw)
	return v
}

func TestMonitorValidation(t *testing.T) {
	t.Parallel()
	a, _ := newMonitorTestAPI(t)
	id := a.mustCreate("/websites", `{"name":"v","url":"https://example.com","regions":["europe"]}`)
	tests := []struct {
		name   string
		path   string
		status int
		field  string
	}{
		{"days 0", "/monitor/" + id + "?days=0", http.StatusUnprocessableEntity, "days"},
		{"days 366", "/monitor/" + id + "?days=366", http.StatusUnprocessableEntity, "days"},
		{"days abc", "/monitor/" + id + "?days=abc", http.StatusUnprocessableEntity, "days"},
		{"days -1", "/monitor/" + id + "?days=-1", http.StatusUnprocessableEntity, "days"},
		{"region not the website's", "/monitor/" + id + "?region=asia", http.StatusUnprocessableEntity, "region"},
		{"region unknown", "/monitor/" + id + "?region=mars", http.StatusUnprocessableEntity, "region"},
		{"region injection", "/monitor/" + id + "?region=" + escape(`europe" or true`), http.StatusUnprocessableEntity, "region"},
		{"breakdown days", "/monitor/" + id + "/breakdown?days=400", http.StatusUnprocessableEntity, "days"},
		{"list limit", "/monitor?limit=0", http.StatusUnprocessableEntity, "limit"},
		{"status cursor", "/api/status?cursor=nope", http.StatusUnprocessableEntity, "cursor"},
		{"bad id", "/monitor/not-a-uuid", http.StatusNotFound, ""},
		{"injected id", "/monitor/" + escape(`x") |> drop(`), http.StatusNotFound, ""},
		{"unknown id", "/monitor/" + uuid.NewString(), http.StatusNotFound, ""},
		{"unknown id uptime", "/monitor/" + uuid.NewString() + "/uptime", http.StatusNotFound, ""},
		{"unknown id breakdown", "/monitor/" + uuid.NewString() + "/breakdown", http.StatusNotFound, ""},
		{"days 365", "/monitor/" + id + "?days=365", http.StatusOK, ""},
		{"default days", "/monitor/" + id + "?region=europe", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := a.do(http.MethodGet, tt.path, "")
			require.Equal(t, tt.status, r.Status, "body: %s", r.Raw)
			if tt.status == http.StatusOK {
				return
			}
			code, fields := r.Err(t)
			if tt.field != "" {
				require.Equal(t, CodeValidationFailed, code)
				require.Contains(t, fields, tt.field)
			} else {
				require.Equal(t, CodeNotFound, code)
			}
		})
	}
}

func TestMonitorWithoutInflux(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	for _, path := range []string{"/monitor", "/api/status", "/monitor/" + uuid.NewString()} {
		r := a.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s: %s", path, r.Raw)
	}
}

func TestMonitorSeries(t *testing.T) {
	t.Parallel()
	a, influx := newMonitorTestAPI(t)
	id := a.mustCreate("/websites", `{"name":"s","url":"https://example.com","regions":["europe","asia"]}`)
	now := time.Now()
	var rs []result
	for i := 1; i <= 100; i++ {
		rs = append(rs, result{ago: time.Duration(i) * time.Minute, region: "europe", outcome: "up", response: float64(i), status: 200})
	}
	rs = append(rs, result{ago: 3 * time.Hour, region: "asia", outcome: "up", response: 500, status: 200})
	writeResults(t, influx, id, now, rs...)

	type series struct {
		WebsiteID     string  `json:"website_id"`
		Days          int     `json:"days"`
		Region        *string `json:"region"`
		WindowSeconds int     `json:"window_seconds"`
		Series        []struct {
			Region string `json:"region"`
			Points []struct {
				At   time.Time `json:"at"`
				Mean float64   `json:"mean_ms"`
				Max  float64   `json:"max_ms"`
			} `json:"points"`
			Percentiles *influxdb.Percentiles `json:"percentiles"`
		} `json:"series"`
		Percentiles *influxdb.Percentiles `json:"percentiles"`
	}
	got := decode[series](t, a.do(http.MethodGet, "/monitor/"+id, ""))
	require.Equal(t, id, got.WebsiteID)
	require.Equal(t, 1, got.Days)
	require.Nil(t, got.Region)
	require.Equal(t, 300, got.WindowSeconds)
	require.Len(t, got.Series, 2)
	require.Equal(t, "asia", got.Series[0].Region)
	require.Len(t, got.Series[0].Points, 1)
	require.InDelta(t, 500, got.Series[0].Points[0].Max, 1e-9)
	eu := got.Series[1]
	require.Equal(t, "europe", eu.Region)
	require.GreaterOrEqual(t, len(eu.Points), 20)
	require.LessOrEqual(t, len(eu.Points), 21)
	var sum, maxMS float64
	for _, p := range eu.Points {
		require.GreaterOrEqual(t, p.Max, p.Mean)
		maxMS = max(maxMS, p.Max)
		sum += p.Mean
	}
	require.InDelta(t, 100, maxMS, 1e-9)
	require.InDelta(t, 50.5, eu.Percentiles.P50, 1e-9)
	require.InDelta(t, 99.01, eu.Percentiles.P99, 1e-9)
	require.InDelta(t, 51, got.Percentiles.P50, 1e-9) // 1..100 and 500

	got = decode[series](t, a.do(http.MethodGet, "/monitor/"+id+"?days=30&region=asia", ""))
	require.Equal(t, 30, got.Days)
	require.Equal(t, "asia", *got.Region)
	require.Equal(t, 7200, got.WindowSeconds)
	require.Len(t, got.Series, 1)
	require.InDelta(t, 500, got.Percentiles.P95, 1e-9)
}

func TestMonitorUptime(t *testing.T) {
	t.Parallel()
	a, influx := newMonitorTestAPI(t)
	id := a.mustCreate("/websites", `{"name":"u","url":"https://example.com","regions":["europe","asia"]}`)
	now := time.Now()
	var rs []result
	for i, o := range []monitor.Outcome{"up", "up", "up", "degraded", "down", "timeout"} {
		rs = append(rs, result{ago: time.Duration(i+1) * time.Minute, region: "europe", outcome: o, response: 10, status: 200})
	}
	rs = append(rs,
		result{ago: 48 * time.Hour, region: "europe", outcome: "down", response: 10, status: 500},
		result{ago: 90 * 24 * time.Hour, region: "europe", outcome: "up", response: 10, status: 200},
		result{ago: time.Minute, region: "asia", outcome: "blocked"},
	)
	writeResults(t, influx, id, now, rs...)

	type stats struct {
		Uptime *float64 `json:"uptime_percent"`
		Checks int64    `json:"checks"`
		influxdb.Counts
	}
	type uptime struct {
		WebsiteID string `json:"website_id"`
		Periods   map[string]struct {
			Overall stats            `json:"overall"`
			Regions map[string]stats `json:"regions"`
		} `json:"periods"`
	}
	r := a.do(http.MethodGet, "/monitor/"+id+"/uptime", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	got := decode[uptime](t, r)
	require.Equal(t, id, got.WebsiteID)
	require.Len(t, got.Periods, 4)

	day := got.Periods["24h"]
	require.InDelta(t, 66.67, *day.Regions["europe"].Uptime, 1e-9)
	require.EqualValues(t, 6, day.Regions["europe"].Checks)
	require.Equal(t, influxdb.Counts{Up: 3, Degraded: 1, Down: 1, Timeout: 1}, day.Regions["europe"].Counts)
	require.Nil(t, day.Regions["asia"].Uptime) // only a blocked check
	require.EqualValues(t, 1, day.Regions["asia"].Blocked)
	require.InDelta(t, 66.67, *day.Overall.Uptime, 1e-9)
	require.EqualValues(t, 6, day.Overall.Checks)

	require.InDelta(t, 57.14, *got.Periods["7d"].Overall.Uptime, 1e-9)  // 4 of 7
	require.InDelta(t, 57.14, *got.Periods["30d"].Overall.Uptime, 1e-9) // 4 of 7
	require.InDelta(t, 62.5, *got.Periods["all"].Overall.Uptime, 1e-9)  // 5 of 8
	require.EqualValues(t, 8, got.Periods["all"].Overall.Checks)
}

func TestMonitorListAndStatus(t *testing.T) {
	t.Parallel()
	a, influx := newMonitorTestAPI(t)
	ctx := context.Background()
	now := time.Now()
	replaceViews(a.srv, monitorTestReader(influx), func(p *status.Params) { p.Now = func() time.Time { return now } })
	busy := a.mustCreate("/websites", `{"name":"busy","url":"https://example.com","regions":["europe","asia"],"interval_seconds":60}`)
	quiet := a.mustCreate("/websites", `{"name":"quiet","url":"https://example.org","regions":["europe"],"enabled":false}`)
	writeResults(t, influx, busy, now,
		result{ago: 3 * time.Minute, region: "europe", outcome: "down", response: 5, status: 500},
		result{ago: 2 * time.Minute, region: "europe", outcome: "up", response: 40, status: 200},
		result{ago: 1 * time.Minute, region: "asia", outcome: "timeout", response: 10000, status: 0},
		result{ago: 2 * time.Minute, region: "asia", outcome: "up", response: 60, status: 200},
	)
	ended := now.Add(-90 * time.Second)
	_, err := a.pool.Exec(ctx, `INSERT INTO region_downtimes (website_id, region, started_at, ended_at, outcome)
		VALUES ($1, 'europe', $2, $3, 'down')`, busy, now.Add(-10*time.Minute), ended)
	require.NoError(t, err)

	r := a.do(http.MethodGet, "/monitor", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	list := decode[listResponse[status.MonitorItem]](t, r)
	require.Len(t, list.Items, 2)
	require.Empty(t, list.NextCursor)

	b := list.Items[0]
	require.Equal(t, busy, b.ID)
	require.Equal(t, monitor.OutcomeTimeout, b.Outcome) // the worst of up and timeout
	require.Equal(t, "unknown", b.State)                // the notifier has recorded nothing
	require.Len(t, b.Regions, 2)
	require.Equal(t, "asia", b.Regions[0].Region)
	require.Equal(t, monitor.OutcomeTimeout, b.Regions[0].Outcome)
	require.Equal(t, 0, *b.Regions[0].StatusCode)
	require.Equal(t, monitor.OutcomeUp, b.Regions[1].Outcome)
	require.InDelta(t, 40, *b.Regions[1].ResponseMS, 1e-9)
	require.InDelta(t, 5020, *b.ResponseMS, 1e-9)
	require.WithinDuration(t, now.Add(-time.Minute), *b.LastCheckAt, time.Millisecond)
	for _, rs := range b.Regions {
		require.NotNil(t, rs.NextCheckAt)
		require.False(t, rs.NextCheckAt.Before(now.Truncate(time.Millisecond)))
		require.True(t, rs.NextCheckAt.Before(now.Add(time.Minute)))
		require.Equal(t, status.NextCheckAt(busy, rs.Region, 60, now), *rs.NextCheckAt)
	}
	require.NotNil(t, b.LastDowntime)
	require.Equal(t, "europe", b.LastDowntime.Region)
	require.EqualValues(t, 510, b.LastDowntime.DurationSeconds)
	require.EqualValues(t, 90, *b.SecondsSinceLastDowntime)

	q := list.Items[1]
	require.Equal(t, quiet, q.ID)
	require.Equal(t, "paused", q.State)
	require.Equal(t, status.OutcomeUnknown, q.Outcome)
	require.Nil(t, q.NextCheckAt)
	require.Nil(t, q.LastCheckAt)
	require.Nil(t, q.LastDowntime)
	require.Nil(t, q.SecondsSinceLastDowntime)

	// Pages follow GET /websites.
	page := decode[listResponse[status.MonitorItem]](t, a.do(http.MethodGet, "/monitor?limit=1", ""))
	require.Len(t, page.Items, 1)
	require.NotEmpty(t, page.NextCursor)
	page = decode[listResponse[status.MonitorItem]](t, a.do(http.MethodGet, "/monitor?limit=1&cursor="+page.NextCursor, ""))
	require.Equal(t, quiet, page.Items[0].ID)

	r = a.do(http.MethodGet, "/api/status", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	status := decode[listResponse[status.Summary]](t, r)
	require.Len(t, status.Items, 2)
	s := status.Items[0]
	require.Equal(t, "timeout", s.Status)
	require.EqualValues(t, 4, s.TotalChecks)
	require.InDelta(t, 50, *s.Uptime["24h"], 1e-9)
	require.InDelta(t, 50, *s.Uptime["all"], 1e-9)
	require.Equal(t, 0, *s.StatusCode)
	require.NotNil(t, s.NextCheck)
	require.Equal(t, "paused", status.Items[1].Status)
	require.Nil(t, status.Items[1].Uptime["24h"])
	require.Zero(t, status.Items[1].TotalChecks)
}

func TestMonitorBreakdown(t *testing.T) {
	t.Parallel()
	a, influx := newMonitorTestAPI(t)
	id := a.mustCreate("/websites", `{"name":"b","url":"https://example.com","regions":["europe","asia"]}`)
	writeResults(t, influx, id, time.Now(),
		result{ago: time.Minute, region: "europe", outcome: "up", response: 10, status: 200},
		result{ago: 2 * time.Minute, region: "asia", outcome: "down", response: 30, status: 503},
	)
	r := a.do(http.MethodGet, "/monitor/"+id+"/breakdown?days=7", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	got := decode[breakdownResponse](t, r)
	require.Equal(t, 7, got.Days)
	require.Equal(t, []influxdb.StatusCount{{Code: 200, Count: 1}, {Code: 503, Count: 1}}, got.StatusCodes)
	require.InDelta(t, 10, *got.Phases.TTFB, 1e-9)
}
