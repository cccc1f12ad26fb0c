package influxdb

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// queryTestURL is the local stack's InfluxDB 1.8; VIGIL_TEST_INFLUXDB_URL overrides it.
func queryTestURL() string {
	if u := os.Getenv("VIGIL_TEST_INFLUXDB_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:8086"
}

const queryTestBucket = "vigil/autogen"

// queryTestEnv is a client of the real InfluxDB and a Reader whose clock is pinned to now.
type queryTestEnv struct {
	client influxdb2.Client
	reader *Reader
	now    time.Time
}

func newQueryTestEnv(t testing.TB, now time.Time) *queryTestEnv {
	t.Helper()
	client := influxdb2.NewClient(queryTestURL(), "")
	t.Cleanup(client.Close)
	return &queryTestEnv{
		client: client,
		reader: NewReader(client.QueryAPI("vigil"), queryTestBucket, func() time.Time { return now }),
		now:    now,
	}
}

// check is one result as the worker writes it.
type check struct {
	at       time.Time
	region   string
	outcome  monitor.Outcome
	response float64
	status   int // 0 for a check that got no response
	reason   string
	errMsg   string
	// noStatus leaves the status_code field out, as an older writer might have.
	noStatus bool
}

func (e *queryTestEnv) write(t testing.TB, websiteID string, checks ...check) {
	t.Helper()
	points := make([]*write.Point, 0, len(checks))
	for _, c := range checks {
		fields := map[string]any{
			"response_ms": c.response,
			"dns_ms":      1.0,
			"connect_ms":  2.0,
			"tls_ms":      3.0,
			"ttfb_ms":     c.response / 2,
			"up":          c.outcome.Available(),
			"outcome":     string(c.outcome),
			"reason":      c.reason,
			"error":       c.errMsg,
		}
		if !c.noStatus {
			fields["status_code"] = int64(c.status)
		}
		points = append(points, write.NewPoint("check",
			map[string]string{"website_id": websiteID, "region": c.region}, fields, c.at))
	}
	w := e.client.WriteAPIBlocking("vigil", queryTestBucket)
	for len(points) > 0 {
		n := min(len(points), 5000)
		require.NoError(t, w.WritePoint(context.Background(), points[:n]...))
		points = points[n:]
	}
}

// pinnedNow is a recent instant on an hour boundary, so that windows line up with the range.
func pinnedNow() time.Time { return time.Now().UTC().Truncate(time.Hour) }

func TestWindowKeepsSeriesSmall(t *testing.T) {
	t.Parallel()
	for _, days := range []int{1, 7, 30, 90, 365} {
		rng := time.Duration(days) * 24 * time.Hour
		w := Window(rng)
		require.LessOrEqual(t, int(rng/w), MaxSeriesPoints, "days=%d window=%s", days, w)
	}
	require.Equal(t, 5*time.Minute, Window(24*time.Hour))
	require.Equal(t, 30*time.Minute, Window(7*24*time.Hour))
	require.Equal(t, 2*time.Hour, Window(30*24*time.Hour))
	require.Equal(t, 24*time.Hour, Window(365*24*time.Hour))
}

func TestResponseTimesPointCount(t *testing.T) {
	t.Parallel()
	env := newQueryTestEnv(t, pinnedNow())
	for _, days := range []int{1, 7, 30, 365} {
		t.Run(time.Duration(days*24*int(time.Hour)).String(), func(t *testing.T) {
			t.Parallel()
			id := uuid.NewString()
			rng := time.Duration(days) * 24 * time.Hour
			step := rng / 2000 // enough checks that every window has some
			checks := make([]check, 0, 2000)
			for at := env.now.Add(-rng).Add(step / 2); at.Before(env.now); at = at.Add(step) {
				checks = append(checks, check{at: at, region: "europe", outcome: monitor.OutcomeUp, response: 100, status: 200})
			}
			env.write(t, id, checks...)

			rt, err := env.reader.ResponseTimes(context.Background(), id, "", days)
			require.NoError(t, err)
			require.Len(t, rt.Series, 1)
			n := len(rt.Series[0].Points)
			require.LessOrEqual(t, n, MaxSeriesPoints+1)
			require.GreaterOrEqual(t, n, int(rng/rt.Window)) // every window has a point
		})
	}
}

func TestResponseTimesKnownData(t *testing.T) {
	t.Parallel()
	env := newQueryTestEnv(t, pinnedNow())
	id := uuid.NewString()
	start := env.now.Add(-24 * time.Hour) // days=1: 5-minute windows from here
	var checks []check
	// Window 0 of europe: 10, 20, 60 (mean 30, max 60). Window 2: 5 (mean 5, max 5).
	for i, v := range []float64{10, 20, 60} {
		checks = append(checks, check{at: start.Add(time.Duration(i+1) * time.Minute), region: "europe", outcome: monitor.OutcomeUp, response: v, status: 200})
	}
	checks = append(checks, check{at: start.Add(11 * time.Minute), region: "europe", outcome: monitor.OutcomeUp, response: 5, status: 200})
	// asia: 1..100 spread over the last hours, one per minute.
	for i := 1; i <= 100; i++ {
		checks = append(checks, check{at: env.now.Add(-time.Duration(i) * time.Minute), region: "asia", outcome: monitor.OutcomeUp, response: float64(i), status: 200})
	}
	// Outside the range: must not count.
	checks = append(checks, check{at: start.Add(-time.Minute), region: "europe", outcome: monitor.OutcomeUp, response: 1e6, status: 200})
	env.write(t, id, checks...)

	t.Run("all regions", func(t *testing.T) {
		t.Parallel()
		rt, err := env.reader.ResponseTimes(context.Background(), id, "", 1)
		require.NoError(t, err)
		require.Equal(t, 5*time.Minute, rt.Window)
		require.Len(t, rt.Series, 2)
		asia, europe := rt.Series[0], rt.Series[1]
		require.Equal(t, "asia", asia.Region)
		require.Equal(t, "europe", europe.Region)

		require.Equal(t, []Point{
			{At: start, Mean: 30, Max: 60},
			{At: start.Add(10 * time.Minute), Mean: 5, Max: 5},
		}, utcPoints(europe.Points))

		// asia: windows of 5 checks each (minutes -100..-96 are the first window, etc.).
		require.Len(t, asia.Points, 20)
		require.Equal(t, Point{At: env.now.Add(-100 * time.Minute), Mean: 98, Max: 100}, utcPoints(asia.Points)[0])

		// Percentiles interpolate linearly between the nearest checks.
		require.NotNil(t, asia.Percentiles)
		require.InDelta(t, 50.5, asia.Percentiles.P50, 1e-9)
		require.InDelta(t, 95.05, asia.Percentiles.P95, 1e-9)
		require.InDelta(t, 99.01, asia.Percentiles.P99, 1e-9)
		require.InDelta(t, 15, europe.Percentiles.P50, 1e-9) // 5, 10, 20, 60

		// Over both regions: 1..100 plus 5, 10, 20, 60.
		require.NotNil(t, rt.Percentiles)
		all := append(seq(1, 100), 5, 10, 20, 60)
		require.InDelta(t, linearQuantile(all, 0.5), rt.Percentiles.P50, 1e-9)
		require.InDelta(t, linearQuantile(all, 0.95), rt.Percentiles.P95, 1e-9)
		require.InDelta(t, linearQuantile(all, 0.99), rt.Percentiles.P99, 1e-9)
	})
	t.Run("one region", func(t *testing.T) {
		t.Parallel()
		rt, err := env.reader.ResponseTimes(context.Background(), id, "europe", 1)
		require.NoError(t, err)
		require.Len(t, rt.Series, 1)
		require.Equal(t, "europe", rt.Series[0].Region)
		require.InDelta(t, 15, rt.Percentiles.P50, 1e-9)
	})
	t.Run("no data", func(t *testing.T) {
		t.Parallel()
		rt, err := env.reader.ResponseTimes(context.Background(), uuid.NewString(), "", 7)
		require.NoError(t, err)
		require.Empty(t, rt.Series)
		require.Nil(t, rt.Percentiles)
	})
}

func TestQueriesRefuseUnsafeInput(t *testing.T) {
	t.Parallel()
	env := newQueryTestEnv(t, pinnedNow())
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"id":        func() error { _, err := env.reader.ResponseTimes(ctx, `x") |> drop()`, "", 1); return err },
		"region":    func() error { _, err := env.reader.ResponseTimes(ctx, uuid.NewString(), `eu" or true`, 1); return err },
		"days 0":    func() error { _, err := env.reader.ResponseTimes(ctx, uuid.NewString(), "", 0); return err },
		"days 366":  func() error { _, err := env.reader.Breakdown(ctx, uuid.NewString(), "", 366); return err },
		"latest id": func() error { _, err := env.reader.Latest(ctx, []LatestSite{{ID: "nope"}}); return err },
		"outcomes":  func() error { _, err := env.reader.Outcomes(ctx, []string{"1 or true"}, UptimePeriods); return err },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, call())
		})
	}
	require.Equal(t, `"a\"b\\c\${d}"`, fluxString(`a"b\c${d}`))
}

func TestOutcomesUptime(t *testing.T) {
	t.Parallel()
	env := newQueryTestEnv(t, pinnedNow())
	id := uuid.NewString()
	hourAgo := env.now.Add(-time.Hour)
	var checks []check
	// europe in the last 24h: 3 up, 1 degraded, 1 down, 1 timeout -> 66.67%.
	for i, o := range []monitor.Outcome{"up", "up", "up", "degraded", "down", "timeout"} {
		checks = append(checks, check{at: hourAgo.Add(time.Duration(i) * time.Minute), region: "europe", outcome: o, response: 10, status: 200})
	}
	// asia in the last 24h: 1 up, 1 down and a blocked check that does not count.
	checks = append(checks,
		check{at: hourAgo, region: "asia", outcome: "up", response: 10, status: 200},
		check{at: hourAgo.Add(time.Minute), region: "asia", outcome: "down", response: 10, status: 500},
		check{at: hourAgo.Add(2 * time.Minute), region: "asia", outcome: "blocked", errMsg: "ssrf"},
	)
	// europe 3 days ago: 2 down (in 7d and longer); 10 days ago: 2 up (30d); 100 days ago: 4 up (all).
	for i := range 2 {
		checks = append(checks, check{at: env.now.Add(-72*time.Hour + time.Duration(i)*time.Minute), region: "europe", outcome: "down", response: 10, status: 503})
		checks = append(checks, check{at: env.now.Add(-240*time.Hour + time.Duration(i)*time.Minute), region: "europe", outcome: "up", response: 10, status: 200})
	}
	for i := range 4 {
		checks = append(checks, check{at: env.now.Add(-2400*time.Hour + time.Duration(i)*time.Minute), region: "europe", outcome: "up", response: 10, status: 200})
	}
	other := uuid.NewString()
	env.write(t, id, checks...)
	env.write(t, other, check{at: hourAgo, region: "europe", outcome: "down", response: 1, status: 500})

	got, err := env.reader.Outcomes(context.Background(), []string{id, other}, UptimePeriods)
	require.NoError(t, err)
	type key struct{ id, region, period string }
	m := map[key]Counts{}
	for _, rc := range got {
		m[key{rc.WebsiteID, rc.Region, rc.Period}] = rc.Counts
	}
	eu24 := m[key{id, "europe", "24h"}]
	require.Equal(t, Counts{Up: 3, Degraded: 1, Down: 1, Timeout: 1}, eu24)
	require.InDelta(t, 66.67, *eu24.Uptime(), 1e-9)
	asia24 := m[key{id, "asia", "24h"}]
	require.Equal(t, Counts{Up: 1, Down: 1, Blocked: 1}, asia24)
	require.EqualValues(t, 2, asia24.Checks())
	require.EqualValues(t, 3, asia24.Total())
	require.InDelta(t, 50, *asia24.Uptime(), 1e-9)
	require.InDelta(t, 62.5, *eu24.Plus(asia24).Uptime(), 1e-9) // 5 of 8

	require.Equal(t, Counts{Up: 3, Degraded: 1, Down: 3, Timeout: 1}, m[key{id, "europe", "7d"}])
	require.Equal(t, Counts{Up: 5, Degraded: 1, Down: 3, Timeout: 1}, m[key{id, "europe", "30d"}])
	require.Equal(t, Counts{Up: 9, Degraded: 1, Down: 3, Timeout: 1}, m[key{id, "europe", "all"}])
	require.Equal(t, asia24, m[key{id, "asia", "all"}])
	require.Equal(t, Counts{Down: 1}, m[key{other, "europe", "24h"}])
	require.Nil(t, Counts{}.Uptime())
}

func TestLatest(t *testing.T) {
	t.Parallel()
	env := newQueryTestEnv(t, time.Now().UTC())
	fast, hourly, stale, empty := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	now := env.now
	env.write(t, fast,
		check{at: now.Add(-3 * time.Minute), region: "europe", outcome: "up", response: 10, status: 200},
		check{at: now.Add(-2 * time.Minute), region: "europe", outcome: "timeout", response: 5000, reason: "timeout", errMsg: "deadline exceeded", noStatus: true},
		check{at: now.Add(-4 * time.Minute), region: "asia", outcome: "down", response: 20, status: 500},
		check{at: now.Add(-1 * time.Minute), region: "asia", outcome: "up", response: 30, status: 200},
	)
	env.write(t, hourly, check{at: now.Add(-2 * time.Hour), region: "europe", outcome: "degraded", response: 900, status: 200})
	env.write(t, stale, check{at: now.Add(-20 * time.Minute), region: "europe", outcome: "up", response: 10, status: 200})

	got, err := env.reader.Latest(context.Background(), []LatestSite{
		{ID: fast, Interval: time.Minute},
		{ID: hourly, Interval: time.Hour},
		{ID: stale, Interval: time.Minute}, // nothing within 15 minutes
		{ID: empty, Interval: time.Minute},
	})
	require.NoError(t, err)
	byKey := map[string]Latest{}
	for _, l := range got {
		l.At = l.At.UTC()
		byKey[l.WebsiteID+"/"+l.Region] = l
	}
	require.Len(t, byKey, 3)
	ms := func(t time.Time) time.Time { return t.Truncate(time.Nanosecond) }
	require.Equal(t, Latest{WebsiteID: fast, Region: "europe", At: ms(now.Add(-2 * time.Minute)), Outcome: "timeout", ResponseMS: 5000, Reason: "timeout", Error: "deadline exceeded"}, byKey[fast+"/europe"])
	require.Equal(t, Latest{WebsiteID: fast, Region: "asia", At: ms(now.Add(-time.Minute)), Outcome: "up", ResponseMS: 30, StatusCode: 200}, byKey[fast+"/asia"])
	require.Equal(t, monitor.OutcomeDegraded, byKey[hourly+"/europe"].Outcome)
}

func TestBreakdown(t *testing.T) {
	t.Parallel()
	env := newQueryTestEnv(t, pinnedNow())
	id := uuid.NewString()
	at := env.now.Add(-time.Hour)
	env.write(t, id,
		check{at: at, region: "europe", outcome: "up", response: 10, status: 200},
		check{at: at.Add(time.Minute), region: "europe", outcome: "up", response: 30, status: 200},
		check{at: at.Add(2 * time.Minute), region: "asia", outcome: "down", response: 50, status: 503},
		check{at: at.Add(3 * time.Minute), region: "asia", outcome: "down", response: 70},
	)
	b, err := env.reader.Breakdown(context.Background(), id, "", 1)
	require.NoError(t, err)
	require.Equal(t, []StatusCount{{0, 1}, {200, 2}, {503, 1}}, b.StatusCodes)
	require.InDelta(t, 1, *b.Phases.DNS, 1e-9)
	require.InDelta(t, 2, *b.Phases.Connect, 1e-9)
	require.InDelta(t, 3, *b.Phases.TLS, 1e-9)
	require.InDelta(t, 20, *b.Phases.TTFB, 1e-9) // mean of 5, 15, 25, 35

	b, err = env.reader.Breakdown(context.Background(), id, "asia", 1)
	require.NoError(t, err)
	require.Equal(t, []StatusCount{{0, 1}, {503, 1}}, b.StatusCodes)
	require.InDelta(t, 30, *b.Phases.TTFB, 1e-9)
}

func utcPoints(ps []Point) []Point {
	out := make([]Point, len(ps))
	for i, p := range ps {
		p.At = p.At.UTC()
		out[i] = p
	}
	return out
}

func seq(from, to int) []float64 {
	var out []float64
	for i := from; i <= to; i++ {
		out = append(out, float64(i))
	}
	return out
}

// linearQuantile is the q-quantile of vs interpolated linearly between the closest ranks
// (numpy's default), which is what Flux's exact_mean method computes.
func linearQuantile(vs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}
