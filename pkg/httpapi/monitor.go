package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/scheduler"
)

// CheckReader is what the monitoring endpoints read from the time-series store; *influxdb.Reader
// is the implementation. It is an interface so that handlers can be built without InfluxDB,
// though the tests run them on the real one.
type CheckReader interface {
	Latest(ctx context.Context, sites []influxdb.LatestSite) ([]influxdb.Latest, error)
	ResponseTimes(ctx context.Context, websiteID, region string, days int) (influxdb.ResponseTimes, error)
	Outcomes(ctx context.Context, websiteIDs []string, periods []influxdb.Period) ([]influxdb.RegionCounts, error)
	Breakdown(ctx context.Context, websiteID, region string, days int) (influxdb.Breakdown, error)
}

// LastCheckReader is where GET /monitor reads each pair's latest check first: *queue.LastChecks
// reads the state the workers keep in Redis on every completion, one round trip for a page,
// where the time series would cost a Flux query. Pairs it does not know (no state yet, or
// Redis lost it) are read from the CheckReader.
type LastCheckReader interface {
	LastChecks(ctx context.Context, pairs []queue.Pair) ([]queue.LastCheck, error)
}

// lastDowntimes is the part of postgres.DowntimeStore that GET /monitor reads.
type lastDowntimes interface {
	LastDowntimes(ctx context.Context, websiteIDs []string) (map[string]postgres.Downtime, error)
}

// monitorAPI holds what the monitoring endpoints need beyond the Server's website store.
type monitorAPI struct {
	checks    CheckReader
	last      LastCheckReader // nil: the latest checks come from checks alone
	overview  *postgres.OverviewStore
	downtimes lastDowntimes
	cache     *resultCache // nil: no caching
	log       *slog.Logger
	now       func() time.Time
}

func newMonitorAPI(pool *pgxpool.Pool, p Params) *monitorAPI {
	now := time.Now // Params.Now is the rate limiter's
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &monitorAPI{
		checks:    p.Checks,
		last:      p.LastChecks,
		overview:  postgres.NewOverviewStore(pool),
		downtimes: postgres.NewDowntimeStore(pool),
		cache:     newResultCache(p.CacheTTL, p.CacheEntries, now),
		log:       log,
		now:       now,
	}
}

// responseTimes is CheckReader.ResponseTimes through the cache.
func (m *monitorAPI) responseTimes(ctx context.Context, checks CheckReader, websiteID, region string, days int) (influxdb.ResponseTimes, error) {
	key := "series/" + websiteID + "/" + region + "/" + strconv.Itoa(days)
	return cached(ctx, m.cache, key, func(ctx context.Context) (influxdb.ResponseTimes, error) {
		return checks.ResponseTimes(ctx, websiteID, region, days)
	})
}

// breakdown is CheckReader.Breakdown through the cache.
func (m *monitorAPI) breakdown(ctx context.Context, checks CheckReader, websiteID, region string, days int) (influxdb.Breakdown, error) {
	key := "breakdown/" + websiteID + "/" + region + "/" + strconv.Itoa(days)
	return cached(ctx, m.cache, key, func(ctx context.Context) (influxdb.Breakdown, error) {
		return checks.Breakdown(ctx, websiteID, region, days)
	})
}

// uptimeCounts is CheckReader.Outcomes of one website over influxdb.UptimePeriods, through the
// cache.
func (m *monitorAPI) uptimeCounts(ctx context.Context, checks CheckReader, websiteID string) ([]influxdb.RegionCounts, error) {
	return cached(ctx, m.cache, "uptime/"+websiteID, func(ctx context.Context) ([]influxdb.RegionCounts, error) {
		return checks.Outcomes(ctx, []string{websiteID}, influxdb.UptimePeriods)
	})
}

// latest returns the latest check of every region of sites: from the LastCheckReader (Redis)
// for the pairs it knows, and from the time series for the others, in one query for the
// websites that have such a pair. A check older than influxdb.LatestLookback of its website's
// interval is not a latest check, whichever store has it. If Redis fails, the whole page is
// read from the time series.
func (m *monitorAPI) latest(ctx context.Context, checks CheckReader, sites []postgres.Website) ([]influxdb.Latest, error) {
	ask := func(ws []postgres.Website) ([]influxdb.Latest, error) {
		if len(ws) == 0 {
			return nil, nil
		}
		ls := make([]influxdb.LatestSite, len(ws))
		for i, w := range ws {
			ls[i] = influxdb.LatestSite{ID: w.ID, Interval: time.Duration(w.IntervalSeconds) * time.Second}
		}
		return checks.Latest(ctx, ls)
	}
	if m.last == nil {
		return ask(sites)
	}
	var pairs []queue.Pair
	for _, w := range sites {
		for _, r := range w.Regions {
			pairs = append(pairs, queue.Pair{WebsiteID: w.ID, Region: r})
		}
	}
	known, err := m.last.LastChecks(ctx, pairs)
	if err != nil {
		m.log.WarnContext(ctx, "latest checks from Redis failed; reading them from the time series", "err", err)
		return ask(sites)
	}
	type pairKey struct{ id, region string }
	have := make(map[pairKey]bool, len(known))
	out := make([]influxdb.Latest, 0, len(pairs))
	now := m.now()
	interval := make(map[string]time.Duration, len(sites))
	for _, w := range sites {
		interval[w.ID] = time.Duration(w.IntervalSeconds) * time.Second
	}
	for _, lc := range known {
		have[pairKey{lc.WebsiteID, lc.Region}] = true
		if now.Sub(lc.At) > influxdb.LatestLookback(interval[lc.WebsiteID]) {
			continue // known, but not checked lately: no latest check, as in the time series
		}
		out = append(out, influxdb.Latest{WebsiteID: lc.WebsiteID, Region: lc.Region, At: lc.At, Outcome: lc.Outcome,
			ResponseMS: lc.ResponseMS, StatusCode: lc.StatusCode, Reason: lc.Reason, Error: lc.Message})
	}
	// Pairs Redis does not know: only enabled websites', since a paused website's pairs get no
	// new state and would send every page to the time series.
	var rest []postgres.Website
	for _, w := range sites {
		if !w.Enabled {
			continue
		}
		for _, r := range w.Regions {
			if !have[pairKey{w.ID, r}] {
				rest = append(rest, w)
				break
			}
		}
	}
	more, err := ask(rest)
	if err != nil {
		return nil, err
	}
	for _, l := range more {
		if !have[pairKey{l.WebsiteID, l.Region}] {
			out = append(out, l)
		}
	}
	return out, nil
}

var errNoChecks = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the time-series store is not configured"}

// reader returns the CheckReader, or the 503 of an API started without InfluxDB.
func (m *monitorAPI) reader() (CheckReader, error) {
	if m == nil || m.checks == nil {
		return nil, errNoChecks
	}
	return m.checks, nil
}

// outcomeSeverity orders outcomes from best to worst, for a website's overall latest outcome:
// the worst of its regions'. Blocked sits below the failures: it is the configuration's fault,
// not the site's.
var outcomeSeverity = map[monitor.Outcome]int{
	monitor.OutcomeUp: 1, monitor.OutcomeDegraded: 2, monitor.OutcomeBlocked: 3,
	monitor.OutcomeTimeout: 4, monitor.OutcomeDown: 5,
}

// outcomeUnknown is the outcome of a pair that has no recent check.
const outcomeUnknown monitor.Outcome = "unknown"

// regionStatus is one region of a website in GET /monitor.
type regionStatus struct {
	Region      string          `json:"region"`
	Outcome     monitor.Outcome `json:"outcome"`
	ResponseMS  *float64        `json:"response_ms"`
	StatusCode  *int            `json:"status_code"`
	Reason      string          `json:"reason,omitempty"`
	Error       string          `json:"error,omitempty"`
	LastCheckAt *time.Time      `json:"last_check_at"`
	NextCheckAt *time.Time      `json:"next_check_at"`
}

// lastDowntime is the most recent regional downtime of a website.
type lastDowntime struct {
	Region          string          `json:"region"`
	StartedAt       time.Time       `json:"started_at"`
	EndedAt         *time.Time      `json:"ended_at"`
	DurationSeconds int64           `json:"duration_seconds"`
	Outcome         monitor.Outcome `json:"outcome"`
}

// monitorItem is one website in GET /monitor.
type monitorItem struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	URL             string `json:"url"`
	Enabled         bool   `json:"enabled"`
	IntervalSeconds int    `json:"interval_seconds"`
	// State is the confirmed state as the notifier recorded it: up, degraded (some region
	// down, below the quorum), down (an open incident), unknown or paused.
	State       string   `json:"state"`
	DownRegions []string `json:"down_regions"`
	// Outcome is the worst of the regions' latest outcomes, or unknown.
	Outcome     monitor.Outcome `json:"outcome"`
	ResponseMS  *float64        `json:"response_ms"` // mean of the regions' latest
	LastCheckAt *time.Time      `json:"last_check_at"`
	NextCheckAt *time.Time      `json:"next_check_at"`
	// LastDowntime is the most recent regional downtime; SecondsSinceLastDowntime counts from
	// its end (0 while it lasts). Both are null for a website that was never down.
	LastDowntime             *lastDowntime  `json:"last_downtime"`
	SecondsSinceLastDowntime *int64         `json:"seconds_since_last_downtime"`
	Regions                  []regionStatus `json:"regions"`
}

// monitorStatus gathers the latest checks, the confirmed states and the last downtimes of a
// page of websites: one Redis round trip (plus one Flux query for the websites whose pairs
// Redis does not know, if any) and two PostgreSQL queries, whatever the page size.
func (s *Server) monitorStatus(ctx context.Context, sites []postgres.Website) ([]monitorItem, error) {
	checks, err := s.mon.reader()
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(sites))
	for i, w := range sites {
		ids[i] = w.ID
	}
	latest, err := s.mon.latest(ctx, checks, sites)
	if err != nil {
		return nil, err
	}
	rows, err := s.mon.overview.Rows(ctx, ids)
	if err != nil {
		return nil, err
	}
	downs, err := s.mon.downtimes.LastDowntimes(ctx, ids)
	if err != nil {
		return nil, err
	}
	byWebsite := make(map[string][]influxdb.Latest, len(sites))
	for _, l := range latest {
		byWebsite[l.WebsiteID] = append(byWebsite[l.WebsiteID], l)
	}
	states := make(map[string]postgres.OverviewRow, len(rows))
	for _, r := range rows {
		states[r.ID] = r
	}
	now := s.mon.now()

	items := make([]monitorItem, len(sites))
	for i, w := range sites {
		it := monitorItem{ID: w.ID, Name: w.Name, URL: w.URL, Enabled: w.Enabled,
			IntervalSeconds: w.IntervalSeconds, State: postgres.OverviewUnknown, DownRegions: []string{},
			Outcome: outcomeUnknown, Regions: make([]regionStatus, 0, len(w.Regions))}
		if r, ok := states[w.ID]; ok {
			it.State = r.State
			if r.DownRegions != nil {
				it.DownRegions = r.DownRegions
			}
		}
		byRegion := map[string]influxdb.Latest{}
		regions := slices.Clone(w.Regions)
		for _, l := range byWebsite[w.ID] {
			byRegion[l.Region] = l
			if !slices.Contains(regions, l.Region) { // a region it no longer has, checked lately
				regions = append(regions, l.Region)
			}
		}
		var sum float64
		var n int
		for _, region := range regions {
			rs := regionStatus{Region: region, Outcome: outcomeUnknown}
			if l, ok := byRegion[region]; ok {
				rs.Outcome, rs.Reason, rs.Error = l.Outcome, l.Reason, l.Error
				rs.ResponseMS, rs.StatusCode = ptr(l.ResponseMS), ptr(l.StatusCode)
				rs.LastCheckAt = ptr(l.At.UTC())
				if outcomeSeverity[l.Outcome] > outcomeSeverity[it.Outcome] {
					it.Outcome = l.Outcome
				}
				if it.LastCheckAt == nil || l.At.After(*it.LastCheckAt) {
					it.LastCheckAt = ptr(l.At.UTC())
				}
				sum += l.ResponseMS
				n++
			}
			if w.Enabled && slices.Contains(w.Regions, region) {
				rs.NextCheckAt = ptr(nextDue(w.ID, region, w.IntervalSeconds, now))
				if it.NextCheckAt == nil || rs.NextCheckAt.Before(*it.NextCheckAt) {
					it.NextCheckAt = rs.NextCheckAt
				}
			}
			it.Regions = append(it.Regions, rs)
		}
		if n > 0 {
			it.ResponseMS = ptr(sum / float64(n))
		}
		if d, ok := downs[w.ID]; ok {
			it.LastDowntime = &lastDowntime{Region: d.Region, StartedAt: d.StartedAt.UTC(), EndedAt: d.EndedAt,
				DurationSeconds: d.DurationSeconds, Outcome: d.Cause.Outcome}
			since := int64(0)
			if d.EndedAt != nil {
				since = max(0, int64(now.Sub(*d.EndedAt)/time.Second))
			}
			it.SecondsSinceLastDowntime = &since
		}
		items[i] = it
	}
	return items, nil
}

// nextDue is when the scheduler next dispatches the pair, from the same phase function it
// uses. It does not know about a confirmation retry the worker scheduled after a failure, which
// can come sooner.
func nextDue(websiteID, region string, intervalSeconds int, now time.Time) time.Time {
	u, err := uuid.Parse(websiteID)
	if err != nil || intervalSeconds <= 0 {
		return now
	}
	period := int64(intervalSeconds) * 1000
	ms := scheduler.NextDue(now.UnixMilli(), scheduler.Phase(u, region, period), period)
	return time.UnixMilli(ms).UTC()
}

// listMonitor handles GET /monitor?limit=&cursor=&q=: every website, a page at a time, in the
// order of GET /websites, with its latest checks.
func (s *Server) listMonitor(c echo.Context) error {
	p, err := listParams(c)
	if err != nil {
		return err
	}
	if _, err := s.mon.reader(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	sites, next, err := s.websites.List(ctx, p)
	if err != nil {
		return err
	}
	items, err := s.monitorStatus(ctx, sites)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newListResponse(items, next))
}

// rangeQuery is what GET /monitor/:id and /monitor/:id/breakdown read from their request.
type rangeQuery struct {
	checks  CheckReader
	website postgres.Website
	days    int
	region  string
}

// rangeQuery finds the reader (503 without one), the website (404) and the range (422).
func (s *Server) rangeQuery(c echo.Context) (rangeQuery, error) {
	checks, err := s.mon.reader()
	if err != nil {
		return rangeQuery{}, err
	}
	w, err := s.websites.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return rangeQuery{}, err
	}
	days, region, err := seriesParams(c, w)
	if err != nil {
		return rangeQuery{}, err
	}
	return rangeQuery{checks: checks, website: w, days: days, region: region}, nil
}

// seriesParams reads ?days= (default 1, 1..365) and ?region= (optional; one of the website's
// regions), answering 422 on the one at fault.
func seriesParams(c echo.Context, w postgres.Website) (days int, region string, err error) {
	f := fieldErrors{}
	days = 1
	if raw := c.QueryParam("days"); raw != "" {
		n, perr := strconv.Atoi(raw)
		if perr != nil || !influxdb.ValidDays(n) {
			f.add("days", fmt.Sprintf("must be an integer between 1 and %d", influxdb.MaxDays))
		}
		days = n
	}
	region = c.QueryParam("region")
	if region != "" && (!influxdb.ValidRegion(region) || !slices.Contains(w.Regions, region)) {
		f.add("region", "is not one of the website's regions")
	}
	return days, region, f.err()
}

// seriesResponse is GET /monitor/:id.
type seriesResponse struct {
	WebsiteID     string                  `json:"website_id"`
	Days          int                     `json:"days"`
	Region        *string                 `json:"region"`
	Start         time.Time               `json:"start"`
	Stop          time.Time               `json:"stop"`
	WindowSeconds int64                   `json:"window_seconds"`
	Series        []influxdb.RegionSeries `json:"series"`
	Percentiles   *influxdb.Percentiles   `json:"percentiles"`
}

// getMonitor handles GET /monitor/:id?days=&region=: the response-time series of the last days.
func (s *Server) getMonitor(c echo.Context) error {
	q, err := s.rangeQuery(c)
	if err != nil {
		return err
	}
	ctx, checks, w, days, region := c.Request().Context(), q.checks, q.website, q.days, q.region
	rt, err := s.mon.responseTimes(ctx, checks, w.ID, region, days)
	if err != nil {
		return err
	}
	out := seriesResponse{WebsiteID: w.ID, Days: days, Start: rt.Start.UTC(), Stop: rt.Stop.UTC(),
		WindowSeconds: int64(rt.Window / time.Second), Series: rt.Series, Percentiles: rt.Percentiles}
	if region != "" {
		out.Region = &region
	}
	return c.JSON(http.StatusOK, out)
}

// breakdownResponse is GET /monitor/:id/breakdown.
type breakdownResponse struct {
	WebsiteID string  `json:"website_id"`
	Days      int     `json:"days"`
	Region    *string `json:"region"`
	influxdb.Breakdown
}

// getBreakdown handles GET /monitor/:id/breakdown?days=&region=: the checks of the last days
// by status code, and the mean of each phase.
func (s *Server) getBreakdown(c echo.Context) error {
	q, err := s.rangeQuery(c)
	if err != nil {
		return err
	}
	ctx, checks, w, days, region := c.Request().Context(), q.checks, q.website, q.days, q.region
	b, err := s.mon.breakdown(ctx, checks, w.ID, region, days)
	if err != nil {
		return err
	}
	out := breakdownResponse{WebsiteID: w.ID, Days: days, Breakdown: b}
	if region != "" {
		out.Region = &region
	}
	return c.JSON(http.StatusOK, out)
}

// uptimeStats is the uptime of one period, in one region or overall. UptimePercent is null
// when there were no checks; Checks excludes blocked checks, which say nothing about the site.
type uptimeStats struct {
	UptimePercent *float64 `json:"uptime_percent"`
	Checks        int64    `json:"checks"`
	influxdb.Counts
}

func newUptimeStats(c influxdb.Counts) uptimeStats {
	return uptimeStats{UptimePercent: c.Uptime(), Checks: c.Checks(), Counts: c}
}

// periodUptime is the uptime of one period, overall and per region.
type periodUptime struct {
	Overall uptimeStats            `json:"overall"`
	Regions map[string]uptimeStats `json:"regions"`
}

// uptimeResponse is GET /monitor/:id/uptime.
type uptimeResponse struct {
	WebsiteID string                  `json:"website_id"`
	Periods   map[string]periodUptime `json:"periods"`
}

// getUptime handles GET /monitor/:id/uptime: uptime over 24h, 7d, 30d and all time.
func (s *Server) getUptime(c echo.Context) error {
	checks, err := s.mon.reader()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w, err := s.websites.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	counts, err := s.mon.uptimeCounts(ctx, checks, w.ID)
	if err != nil {
		return err
	}
	out := uptimeResponse{WebsiteID: w.ID, Periods: map[string]periodUptime{}}
	for _, p := range influxdb.UptimePeriods {
		pu := periodUptime{Regions: map[string]uptimeStats{}}
		var total influxdb.Counts
		for _, region := range w.Regions {
			pu.Regions[region] = newUptimeStats(influxdb.Counts{})
		}
		for _, rc := range counts {
			if rc.Period == p.Name {
				pu.Regions[rc.Region] = newUptimeStats(rc.Counts)
				total = total.Plus(rc.Counts)
			}
		}
		pu.Overall = newUptimeStats(total)
		out.Periods[p.Name] = pu
	}
	return c.JSON(http.StatusOK, out)
}

// statusItem is one website in GET /api/status, the summary of seed 002's status page.
type statusItem struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
	// Status is the worst latest outcome of its regions (up, degraded, down, timeout, blocked
	// or unknown), or paused for a disabled website; State is the confirmed state.
	Status      string              `json:"status"`
	State       string              `json:"state"`
	Uptime      map[string]*float64 `json:"uptime"` // percent by period: 24h, 7d, 30d, all
	ResponseMS  *float64            `json:"response_ms"`
	StatusCode  *int                `json:"status_code"`
	TotalChecks int64               `json:"total_checks"`
	LastCheck   *time.Time          `json:"last_check"`
	NextCheck   *time.Time          `json:"next_check"`
}

// apiStatus handles GET /api/status?limit=&cursor=&q=: for every website, a page at a time, its
// current status, uptime, latest response and check counts.
func (s *Server) apiStatus(c echo.Context) error {
	p, err := listParams(c)
	if err != nil {
		return err
	}
	checks, err := s.mon.reader()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sites, next, err := s.websites.List(ctx, p)
	if err != nil {
		return err
	}
	mon, err := s.monitorStatus(ctx, sites)
	if err != nil {
		return err
	}
	ids := make([]string, len(sites))
	for i, w := range sites {
		ids[i] = w.ID
	}
	counts, err := checks.Outcomes(ctx, ids, influxdb.UptimePeriods)
	if err != nil {
		return err
	}
	type key struct{ id, period string }
	totals := map[key]influxdb.Counts{}
	for _, rc := range counts {
		k := key{rc.WebsiteID, rc.Period}
		totals[k] = totals[k].Plus(rc.Counts)
	}
	items := make([]statusItem, len(mon))
	for i, m := range mon {
		it := statusItem{ID: m.ID, Name: m.Name, URL: m.URL, Status: string(m.Outcome), State: m.State,
			Uptime: map[string]*float64{}, ResponseMS: m.ResponseMS, LastCheck: m.LastCheckAt, NextCheck: m.NextCheckAt,
			TotalChecks: totals[key{m.ID, "all"}].Total()}
		if !m.Enabled {
			it.Status = postgres.OverviewPaused
		}
		for _, p := range influxdb.UptimePeriods {
			it.Uptime[p.Name] = totals[key{m.ID, p.Name}].Uptime()
		}
		// The status code of the region whose outcome is the website's, the most recent first.
		var at time.Time
		for _, r := range m.Regions {
			if r.Outcome == m.Outcome && r.LastCheckAt != nil && r.LastCheckAt.After(at) {
				at, it.StatusCode = *r.LastCheckAt, r.StatusCode
			}
		}
		items[i] = it
	}
	return c.JSON(http.StatusOK, newListResponse(items, next))
}

func ptr[T any](v T) *T { return &v }
