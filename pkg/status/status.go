// Package status is Vigil's read model: what each website's status, uptime and downtime are,
// as people read them. It joins the three stores that know a part of the answer (the checks
// in InfluxDB, each pair's latest check in the workers' Redis state, the confirmed states and
// downtimes in PostgreSQL) into views, and both the JSON API (pkg/httpapi) and the dashboard
// and status pages (pkg/web) show those views instead of joining the stores themselves. It is
// named for what it answers, the status of the monitored websites, not for the stores it reads.
//
// The answers that cost InfluxDB most (a website's series, breakdown and uptime periods) go
// through a short cache with singleflight (cache.go), and the uptime bars through a cache of
// completed days (bars.go); both live here so that every caller of a view shares them.
package status

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// CheckReader is what the views read from the time-series store; *influxdb.Reader is the
// implementation. It is an interface so that the views can be built without InfluxDB, though
// the tests run them on the real one.
type CheckReader interface {
	Latest(ctx context.Context, sites []influxdb.LatestSite) ([]influxdb.Latest, error)
	ResponseTimes(ctx context.Context, websiteID, region string, days int) (influxdb.ResponseTimes, error)
	Outcomes(ctx context.Context, websiteIDs []string, periods []influxdb.Period) ([]influxdb.RegionCounts, error)
	Breakdown(ctx context.Context, websiteID, region string, days int) (influxdb.Breakdown, error)
	DailyOutcomes(ctx context.Context, websiteIDs []string, from, to time.Time) (map[string][]influxdb.DayCounts, error)
}

// LastCheckReader is where Monitor reads each pair's latest check first: *queue.LastChecks
// reads the state the workers keep in Redis on every completion, one round trip for a page,
// where the time series would cost a Flux query. Pairs it does not know (no state yet, or
// Redis lost it) are read from the CheckReader.
type LastCheckReader interface {
	LastChecks(ctx context.Context, pairs []queue.Pair) ([]queue.LastCheck, error)
}

// StateReader is the part of *postgres.OverviewStore that the views read: the confirmed
// states, and the incidents that colour the uptime bars.
type StateReader interface {
	Rows(ctx context.Context, ids []string) ([]postgres.OverviewRow, error)
	IncidentPeriods(ctx context.Context, ids []string, since time.Time) ([]postgres.Period, error)
}

// DowntimeReader is the part of *postgres.DowntimeStore that the views read.
type DowntimeReader interface {
	List(ctx context.Context, f postgres.DowntimeFilter) ([]postgres.Downtime, error)
	Latest(ctx context.Context, f postgres.DowntimeFilter) (postgres.Downtime, error)
	LastDowntimes(ctx context.Context, websiteIDs []string) (map[string]postgres.Downtime, error)
}

// Params are what the views need. States and Downtimes are required.
type Params struct {
	// Checks reads check results (a *influxdb.Reader); with nil, HasChecks is false and the
	// views show what PostgreSQL knows only.
	Checks CheckReader
	// LastChecks reads each pair's latest check for Monitor from the state the workers keep
	// in Redis (a *queue.LastChecks); pairs it does not know, or all of them when it is nil,
	// are read from Checks.
	LastChecks LastCheckReader
	States     StateReader
	Downtimes  DowntimeReader
	// CacheTTL is how long the answers of ResponseTimes, Breakdown and UptimePeriods are
	// served again, concurrent identical calls sharing one query (cache.go); 0 caches nothing.
	// CacheEntries bounds the answers kept; 0 means DefaultCacheEntries.
	CacheTTL     time.Duration
	CacheEntries int
	// Logger logs a Redis failure that the views recover from; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock of the views and of their caches; time.Now when nil.
	Now func() time.Time
}

// Views computes the status, uptime and downtime views. It is safe for concurrent use.
type Views struct {
	checks    CheckReader
	last      LastCheckReader // nil: the latest checks come from checks alone
	states    StateReader
	downtimes DowntimeReader
	cache     *resultCache // nil: no caching
	daily     *dailyCache  // nil without checks
	log       *slog.Logger
	now       func() time.Time
}

// New returns the views on the given stores.
func New(p Params) *Views {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Views{
		checks:    p.Checks,
		last:      p.LastChecks,
		states:    p.States,
		downtimes: p.Downtimes,
		cache:     newResultCache(p.CacheTTL, p.CacheEntries, now),
		log:       log,
		now:       now,
	}
	if p.Checks != nil {
		v.daily = newDailyCache(p.Checks)
	}
	return v
}

// HasChecks reports whether the views read check results. Without them the API's monitoring
// routes answer 503, and the pages show states only.
func (v *Views) HasChecks() bool { return v != nil && v.checks != nil }

// ResponseTimes is the website's response-time series over the last days, through the cache.
func (v *Views) ResponseTimes(ctx context.Context, websiteID, region string, days int) (influxdb.ResponseTimes, error) {
	key := "series/" + websiteID + "/" + region + "/" + strconv.Itoa(days)
	return cached(ctx, v.cache, key, func(ctx context.Context) (influxdb.ResponseTimes, error) {
		return v.checks.ResponseTimes(ctx, websiteID, region, days)
	})
}

// Breakdown is the website's checks over the last days by status code and its mean phases,
// through the cache.
func (v *Views) Breakdown(ctx context.Context, websiteID, region string, days int) (influxdb.Breakdown, error) {
	key := "breakdown/" + websiteID + "/" + region + "/" + strconv.Itoa(days)
	return cached(ctx, v.cache, key, func(ctx context.Context) (influxdb.Breakdown, error) {
		return v.checks.Breakdown(ctx, websiteID, region, days)
	})
}
