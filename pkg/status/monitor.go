package status

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// The views in this file are served by the API as they are, so they carry their JSON names;
// openapi.yaml describes them.

// outcomeSeverity orders outcomes from best to worst, for a website's overall latest outcome:
// the worst of its regions'. Blocked sits below the failures: it is the configuration's fault,
// not the site's.
var outcomeSeverity = map[monitor.Outcome]int{
	monitor.OutcomeUp: 1, monitor.OutcomeDegraded: 2, monitor.OutcomeBlocked: 3,
	monitor.OutcomeTimeout: 4, monitor.OutcomeDown: 5,
}

// OutcomeUnknown is the outcome of a pair that has no recent check.
const OutcomeUnknown monitor.Outcome = "unknown"

// RegionStatus is one region of a website in the Monitor view.
type RegionStatus struct {
	Region      string          `json:"region"`
	Outcome     monitor.Outcome `json:"outcome"`
	ResponseMS  *float64        `json:"response_ms"`
	StatusCode  *int            `json:"status_code"`
	Reason      string          `json:"reason,omitempty"`
	Error       string          `json:"error,omitempty"`
	LastCheckAt *time.Time      `json:"last_check_at"`
	NextCheckAt *time.Time      `json:"next_check_at"`
}

// LastDowntime is the most recent regional downtime of a website.
type LastDowntime struct {
	Region          string          `json:"region"`
	StartedAt       time.Time       `json:"started_at"`
	EndedAt         *time.Time      `json:"ended_at"`
	DurationSeconds int64           `json:"duration_seconds"`
	Outcome         monitor.Outcome `json:"outcome"`
}

// MonitorItem is one website in the Monitor view (GET /monitor).
type MonitorItem struct {
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
	LastDowntime             *LastDowntime  `json:"last_downtime"`
	SecondsSinceLastDowntime *int64         `json:"seconds_since_last_downtime"`
	Regions                  []RegionStatus `json:"regions"`
}

// Monitor gathers the latest checks, the confirmed states and the last downtimes of a page of
// websites: one Redis round trip (plus one Flux query for the websites whose pairs Redis does
// not know, if any) and two PostgreSQL queries, whatever the page size. It needs HasChecks.
func (v *Views) Monitor(ctx context.Context, sites []postgres.Website) ([]MonitorItem, error) {
	ids := make([]string, len(sites))
	for i, w := range sites {
		ids[i] = w.ID
	}
	latest, err := v.latest(ctx, sites)
	if err != nil {
		return nil, err
	}
	rows, err := v.states.Rows(ctx, ids)
	if err != nil {
		return nil, err
	}
	downs, err := v.downtimes.LastDowntimes(ctx, ids)
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
	now := v.now()
	items := make([]MonitorItem, len(sites))
	for i, w := range sites {
		it := MonitorItem{ID: w.ID, Name: w.Name, URL: w.URL, Enabled: w.Enabled,
			IntervalSeconds: w.IntervalSeconds, State: postgres.OverviewUnknown, DownRegions: []string{},
			Outcome: OutcomeUnknown}
		if r, ok := states[w.ID]; ok {
			it.State = r.State
			if r.DownRegions != nil {
				it.DownRegions = r.DownRegions
			}
		}
		it.addRegions(w, byWebsite[w.ID], now)
		if d, ok := downs[w.ID]; ok {
			it.LastDowntime = &LastDowntime{Region: d.Region, StartedAt: d.StartedAt.UTC(), EndedAt: d.EndedAt,
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

// addRegions fills the regions of w from its latest checks (a region it no longer has, but
// checked lately, included), and the website's outcome, latest check, mean response time and
// next check from them.
func (it *MonitorItem) addRegions(w postgres.Website, latest []influxdb.Latest, now time.Time) {
	it.Regions = make([]RegionStatus, 0, len(w.Regions))
	byRegion := map[string]influxdb.Latest{}
	regions := slices.Clone(w.Regions)
	for _, l := range latest {
		byRegion[l.Region] = l
		if !slices.Contains(regions, l.Region) {
			regions = append(regions, l.Region)
		}
	}
	var sum float64
	var n int
	for _, region := range regions {
		rs := RegionStatus{Region: region, Outcome: OutcomeUnknown}
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
			rs.NextCheckAt = ptr(NextCheckAt(w.ID, region, w.IntervalSeconds, now))
			if it.NextCheckAt == nil || rs.NextCheckAt.Before(*it.NextCheckAt) {
				it.NextCheckAt = rs.NextCheckAt
			}
		}
		it.Regions = append(it.Regions, rs)
	}
	if n > 0 {
		it.ResponseMS = ptr(sum / float64(n))
	}
}

// NextCheckAt is when the scheduler next dispatches the pair, from the same phase function it
// uses. It does not know about a confirmation retry the worker scheduled after a failure, which
// can come sooner.
func NextCheckAt(websiteID, region string, intervalSeconds int, now time.Time) time.Time {
	u, err := uuid.Parse(websiteID)
	if err != nil || intervalSeconds <= 0 {
		return now
	}
	period := int64(intervalSeconds) * 1000
	ms := monitor.NextDue(now.UnixMilli(), monitor.Phase(u, region, period), period)
	return time.UnixMilli(ms).UTC()
}

// Summary is one website in the Summaries view (GET /api/status), the summary of seed 002's
// status page.
type Summary struct {
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

// Summaries is, for every website of a page, its current status, uptime over
// influxdb.UptimePeriods, latest response and check counts. It needs HasChecks.
func (v *Views) Summaries(ctx context.Context, sites []postgres.Website) ([]Summary, error) {
	mon, err := v.Monitor(ctx, sites)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(sites))
	for i, w := range sites {
		ids[i] = w.ID
	}
	counts, err := v.checks.Outcomes(ctx, ids, influxdb.UptimePeriods)
	if err != nil {
		return nil, err
	}
	type key struct{ id, period string }
	totals := map[key]influxdb.Counts{}
	for _, rc := range counts {
		k := key{rc.WebsiteID, rc.Period}
		totals[k] = totals[k].Plus(rc.Counts)
	}
	items := make([]Summary, len(mon))
	for i, m := range mon {
		it := Summary{ID: m.ID, Name: m.Name, URL: m.URL, Status: string(m.Outcome), State: m.State,
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
	return items, nil
}

// UptimeStats is the uptime of one period, in one region or overall. UptimePercent is null
// when there were no checks; Checks excludes blocked checks, which say nothing about the site.
type UptimeStats struct {
	UptimePercent *float64 `json:"uptime_percent"`
	Checks        int64    `json:"checks"`
	influxdb.Counts
}

func newUptimeStats(c influxdb.Counts) UptimeStats {
	return UptimeStats{UptimePercent: c.Uptime(), Checks: c.Checks(), Counts: c}
}

// PeriodUptime is the uptime of one period, overall and per region.
type PeriodUptime struct {
	Overall UptimeStats            `json:"overall"`
	Regions map[string]UptimeStats `json:"regions"`
}

// UptimePeriods is the website's uptime over each of influxdb.UptimePeriods, by period name,
// overall and in each of its regions (a region without checks included), through the cache.
// It needs HasChecks.
func (v *Views) UptimePeriods(ctx context.Context, w postgres.Website) (map[string]PeriodUptime, error) {
	counts, err := cached(ctx, v.cache, "uptime/"+w.ID, func(ctx context.Context) ([]influxdb.RegionCounts, error) {
		return v.checks.Outcomes(ctx, []string{w.ID}, influxdb.UptimePeriods)
	})
	if err != nil {
		return nil, err
	}
	out := map[string]PeriodUptime{}
	for _, p := range influxdb.UptimePeriods {
		pu := PeriodUptime{Regions: map[string]UptimeStats{}}
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
		out[p.Name] = pu
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
