package httpapi

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/status"
)

// latestTestRedis is the local Redis with a key prefix of the test's own, removed at its end.
func latestTestRedis(t testing.TB) (*redis.Client, queue.Keys) {
	t.Helper()
	return redistest.New(t)
}

// completeCheck folds r into its pair's state exactly as a worker does on completion.
func completeCheck(t *testing.T, rdb redis.UniversalClient, keys queue.Keys, r monitor.Result) {
	t.Helper()
	s := queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: r.Region})
	j := monitor.Job{WebsiteID: r.WebsiteID, Region: r.Region, URL: "https://example.com", DueAt: r.At.UnixMilli()}
	id := "1-" + time.Now().Format("150405.000000000")[7:]
	res, err := s.Complete(t.Context(), []queue.Completion{{Delivery: queue.Delivery{ID: id, Job: j}, Result: r, Now: r.At}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
}

// TestMonitorLatestFromRedis: GET /monitor takes each pair's latest check from the workers'
// state in Redis, reads the pairs Redis does not know from InfluxDB, ignores a state too old
// to be a latest check, and reads the whole page from InfluxDB when Redis fails; the answer has
// the same shape either way.
func TestMonitorLatestFromRedis(t *testing.T) {
	t.Parallel()
	rdb, keys := latestTestRedis(t)
	a, influx := newMonitorTestAPI(t)
	last := &swapLastChecks{}
	last.Store(queue.NewLastChecks(rdb, keys))
	now := time.Now()
	replaceViews(a.srv, monitorTestReader(influx), func(p *status.Params) {
		p.LastChecks, p.Now = last, func() time.Time { return now }
	})

	fresh := a.mustCreate("/websites", `{"name":"a-fresh","url":"https://example.com","regions":["europe","asia"],"interval_seconds":60}`)
	lost := a.mustCreate("/websites", `{"name":"b-lost","url":"https://example.org","regions":["europe"],"interval_seconds":60}`)
	stale := a.mustCreate("/websites", `{"name":"c-stale","url":"https://example.net","regions":["europe"],"interval_seconds":60}`)

	// fresh/europe: in Redis (newer than what InfluxDB has, so the answer shows which store
	// answered); fresh/asia and lost/europe: only in InfluxDB; stale/europe: a state from two
	// days ago, older than any latest check of a site checked every minute.
	completeCheck(t, rdb, keys, monitor.Result{WebsiteID: fresh, Region: "europe", At: now.Add(-10 * time.Second),
		Outcome: monitor.OutcomeDown, StatusCode: 503, Reason: "status", Message: "HTTP 503", Phases: monitor.Phases{Total: 42500 * time.Microsecond}})
	writeResults(t, influx, fresh, now,
		result{ago: 2 * time.Minute, region: "europe", outcome: "up", response: 40, status: 200},
		result{ago: time.Minute, region: "asia", outcome: "timeout", response: 10000, status: 0})
	writeResults(t, influx, lost, now, result{ago: time.Minute, region: "europe", outcome: "up", response: 70, status: 200})
	completeCheck(t, rdb, keys, monitor.Result{WebsiteID: stale, Region: "europe", At: now.Add(-48 * time.Hour),
		Outcome: monitor.OutcomeUp, StatusCode: 200})

	list := func() []status.MonitorItem {
		t.Helper()
		r := a.do(http.MethodGet, "/monitor", "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		items := decode[listResponse[status.MonitorItem]](t, r).Items
		require.Len(t, items, 3)
		return items
	}
	items := list()
	f := items[0]
	require.Equal(t, fresh, f.ID)
	require.Equal(t, "asia", f.Regions[0].Region)
	require.Equal(t, monitor.OutcomeTimeout, f.Regions[0].Outcome, "from InfluxDB")
	eu := f.Regions[1]
	require.Equal(t, monitor.OutcomeDown, eu.Outcome, "from Redis")
	require.Equal(t, 503, *eu.StatusCode)
	require.InDelta(t, 42.5, *eu.ResponseMS, 1e-9)
	require.Equal(t, "status", eu.Reason)
	require.Equal(t, "HTTP 503", eu.Error)
	require.WithinDuration(t, now.Add(-10*time.Second), *eu.LastCheckAt, time.Microsecond)
	require.Equal(t, monitor.OutcomeDown, f.Outcome)
	require.WithinDuration(t, now.Add(-10*time.Second), *f.LastCheckAt, time.Microsecond)

	require.Equal(t, lost, items[1].ID)
	require.Equal(t, monitor.OutcomeUp, items[1].Regions[0].Outcome, "from InfluxDB")
	require.InDelta(t, 70, *items[1].Regions[0].ResponseMS, 1e-9)

	require.Equal(t, stale, items[2].ID)
	require.Equal(t, status.OutcomeUnknown, items[2].Regions[0].Outcome, "too old to be the latest check")
	require.Nil(t, items[2].LastCheckAt)

	// Redis down: the whole page from InfluxDB.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	last.Store(queue.NewLastChecks(down, keys))
	items = list()
	require.Equal(t, monitor.OutcomeUp, items[0].Regions[1].Outcome, "fresh/europe from InfluxDB")
	require.InDelta(t, 40, *items[0].Regions[1].ResponseMS, 1e-9)
	require.Equal(t, monitor.OutcomeUp, items[1].Regions[0].Outcome)
}

// TestMonitorCachedRoutes: with a cache, the series and uptime answers are kept for the TTL (a
// new point does not show until it ends), per website, days and region.
func TestMonitorCachedRoutes(t *testing.T) {
	t.Parallel()
	a, influx := newMonitorTestAPI(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	replaceViews(a.srv, monitorTestReader(influx), func(p *status.Params) {
		p.CacheTTL, p.CacheEntries, p.Now = 15*time.Second, 16, func() time.Time { return time.Unix(0, clock.Load()) }
	})
	id := a.mustCreate("/websites", `{"name":"c","url":"https://example.com","regions":["europe","asia"]}`)
	now := time.Now()
	writeResults(t, influx, id, now, result{ago: 2 * time.Minute, region: "europe", outcome: "up", response: 10, status: 200})

	checks := func(path string) int64 {
		t.Helper()
		r := a.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		if path == "/monitor/"+id+"/uptime" {
			return int64(r.JSON(t)["periods"].(map[string]any)["24h"].(map[string]any)["overall"].(map[string]any)["checks"].(float64))
		}
		var n int64
		for _, s := range decode[seriesResponse](t, r).Series {
			n += int64(len(s.Points))
		}
		return n
	}
	uptime, series, europe := "/monitor/"+id+"/uptime", "/monitor/"+id+"?days=1", "/monitor/"+id+"?days=1&region=europe"
	require.EqualValues(t, 1, checks(uptime))
	require.EqualValues(t, 1, checks(series))
	writeResults(t, influx, id, now, result{ago: 30 * time.Minute, region: "asia", outcome: "down", response: 20, status: 500})
	require.EqualValues(t, 1, checks(uptime), "cached")
	require.EqualValues(t, 1, checks(series), "cached")
	require.EqualValues(t, 1, checks(europe), "another key, asked for the first time")
	clock.Add(int64(15 * time.Second))
	require.EqualValues(t, 2, checks(uptime), "the TTL is over")
	require.EqualValues(t, 2, checks(series))
}

// swapLastChecks lets a test change the Redis behind the LastCheckReader while the API runs.
type swapLastChecks struct {
	atomic.Pointer[queue.LastChecks]
}

func (s *swapLastChecks) LastChecks(ctx context.Context, pairs []queue.Pair) ([]queue.LastCheck, error) {
	return s.Load().LastChecks(ctx, pairs)
}
