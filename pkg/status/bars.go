package status

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
)

// BarDays is how many days an uptime bar shows.
const BarDays = 90

// todayTTL is how long today's counts are reused: however many viewers poll a page, InfluxDB
// is asked about today at most this often per website. It is short, so that the 7- and
// 30-day figures move with the 24-hour one.
const todayTTL = 5 * time.Second

// pastTTL is how long past days are trusted. A check written late (a worker's batch that
// lands after midnight, a backfill) shows up in the bar within this time.
const pastTTL = time.Hour

// maxCachedSites bounds the daily cache (about 4 KB per website); past it the cache starts
// over rather than grow without end.
const maxCachedSites = 50000

// dailyCache keeps each website's completed days. A past day's counts never change, so each
// is read from InfluxDB once per process; only today is read again, and not more often than
// todayTTL.
type dailyCache struct {
	reader CheckReader
	mu     sync.Mutex
	sites  map[string]*siteDays
}

type siteDays struct {
	// through is the UTC midnight up to which (exclusive) past days are known.
	through time.Time
	past    map[int64]influxdb.Counts // by the day's Unix time
	pastAt  time.Time                 // when past days were last read in full
	today   influxdb.Counts
	todayOf time.Time // the day today's counts belong to
	todayAt time.Time // when they were read
}

func newDailyCache(r CheckReader) *dailyCache {
	return &dailyCache{reader: r, sites: map[string]*siteDays{}}
}

// days returns, for each website, the counts of the BarDays days ending today (oldest first).
func (d *dailyCache) days(ctx context.Context, ids []string, now time.Time) (map[string][]influxdb.Counts, error) {
	today := now.UTC().Truncate(influxdb.Day)
	first := today.Add(-(BarDays - 1) * influxdb.Day)

	d.mu.Lock()
	if len(d.sites) > maxCachedSites {
		d.sites = map[string]*siteDays{}
	}
	var needPast, needToday []string
	from := today
	for _, id := range ids {
		s := d.sites[id]
		if s == nil {
			s = &siteDays{through: first, past: map[int64]influxdb.Counts{}}
			d.sites[id] = s
		}
		if s.through.Before(first) || now.Sub(s.pastAt) > pastTTL {
			s.through = first
		}
		if s.through.Before(today) {
			needPast = append(needPast, id)
			from = minTime(from, s.through)
		}
		if !s.todayOf.Equal(today) || now.Sub(s.todayAt) > todayTTL {
			needToday = append(needToday, id)
		}
	}
	d.mu.Unlock()

	if len(needPast) > 0 {
		got, err := d.reader.DailyOutcomes(ctx, needPast, from, today)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		for _, id := range needPast {
			s := d.sites[id]
			if s == nil {
				continue
			}
			for _, dc := range got[id] {
				s.past[dc.Date.Unix()] = dc.Counts
			}
			for day := range s.past {
				if day < first.Unix() {
					delete(s.past, day)
				}
			}
			if s.through.Equal(first) {
				s.pastAt = now
			}
			s.through = today
		}
		d.mu.Unlock()
	}
	if len(needToday) > 0 {
		got, err := d.reader.DailyOutcomes(ctx, needToday, today, now.Add(time.Second))
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		for _, id := range needToday {
			if s := d.sites[id]; s != nil {
				s.today, s.todayOf, s.todayAt = influxdb.Counts{}, today, now
				for _, dc := range got[id] {
					s.today = s.today.Plus(dc.Counts)
				}
			}
		}
		d.mu.Unlock()
	}

	out := make(map[string][]influxdb.Counts, len(ids))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		s := d.sites[id]
		days := make([]influxdb.Counts, BarDays)
		if s != nil {
			for i := range BarDays - 1 {
				days[i] = s.past[first.Add(time.Duration(i)*influxdb.Day).Unix()]
			}
			days[BarDays-1] = s.today
		}
		out[id] = days
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Day is one day of an uptime bar.
type Day struct {
	Date     time.Time `json:"date"`
	Uptime   *float64  `json:"uptime"`           // percent, nil without checks
	Downtime int64     `json:"downtime_seconds"` // incident time within the day
}

// UptimeBar is the uptime of one website as the dashboard and the status pages show it: its
// uptime over 24 hours, 7, 30 and 90 days, the BarDays days of its bar, and beside them its
// latest response time. It comes from InfluxDB and from the website's incidents.
type UptimeBar struct {
	ResponseMS *float64 `json:"response_ms"`
	Uptime24h  *float64 `json:"uptime_24h"`
	Uptime7d   *float64 `json:"uptime_7d"`
	Uptime30d  *float64 `json:"uptime_30d"`
	Uptime90d  *float64 `json:"uptime_90d"`
	Days       []Day    `json:"days"`
}

// Site is a website that an uptime bar is wanted for, checked every Interval (which only the
// latest response time needs).
type Site struct {
	ID       string
	Interval time.Duration
}

// UptimeBars gathers the uptime bars of a page of websites: the latest response time (the
// mean over regions, read from InfluxDB, when withLatest), uptime over 24 hours (exact, from
// InfluxDB) and over 7, 30 and 90 days (from the daily counts, today included), and the bar's
// days with their incident time. Without HasChecks the bars have their incident time only. It
// fails only as a whole, and the caller then shows the page without numbers.
func (v *Views) UptimeBars(ctx context.Context, sites []Site, withLatest bool) (map[string]*UptimeBar, error) {
	now := v.now()
	out := make(map[string]*UptimeBar, len(sites))
	ids := make([]string, len(sites))
	for i, s := range sites {
		ids[i] = s.ID
		out[s.ID] = &UptimeBar{}
	}
	if len(ids) == 0 {
		return out, nil
	}
	today := now.UTC().Truncate(influxdb.Day)
	first := today.Add(-(BarDays - 1) * influxdb.Day)
	periods, err := v.states.IncidentPeriods(ctx, ids, first)
	if err != nil {
		return nil, err
	}
	downtime := map[string][]int64{}
	for _, p := range periods {
		secs := downtime[p.WebsiteID]
		if secs == nil {
			secs = make([]int64, BarDays)
			downtime[p.WebsiteID] = secs
		}
		end := now
		if p.End != nil {
			end = *p.End
		}
		for i := range BarDays {
			ds := first.Add(time.Duration(i) * influxdb.Day)
			de := ds.Add(influxdb.Day)
			if s, e := maxTime(ds, p.Start), minTime(de, end); e.After(s) {
				secs[i] += int64(e.Sub(s) / time.Second)
			}
		}
	}
	if v.checks == nil {
		for _, id := range ids {
			out[id].Days = days(first, make([]influxdb.Counts, BarDays), downtime[id])
		}
		return out, nil
	}

	// The three InfluxDB questions are independent: ask them at once, so that a page waits for
	// the slowest, not for their sum.
	var (
		wg                  sync.WaitGroup
		daily               map[string][]influxdb.Counts
		counts              []influxdb.RegionCounts
		latest              []influxdb.Latest
		daysErr, cErr, lErr error
	)
	wg.Go(func() { daily, daysErr = v.daily.days(ctx, ids, now) })
	wg.Go(func() {
		counts, cErr = v.checks.Outcomes(ctx, ids, []influxdb.Period{{Name: "24h", Length: 24 * time.Hour}})
	})
	if withLatest {
		refs := make([]influxdb.LatestSite, len(sites))
		for i, s := range sites {
			refs[i] = influxdb.LatestSite{ID: s.ID, Interval: s.Interval}
		}
		wg.Go(func() { latest, lErr = v.checks.Latest(ctx, refs) })
	}
	wg.Wait()
	switch {
	case daysErr != nil:
		return nil, fmt.Errorf("status: daily uptime: %w", daysErr)
	case cErr != nil:
		return nil, fmt.Errorf("status: uptime: %w", cErr)
	case lErr != nil:
		return nil, fmt.Errorf("status: latest: %w", lErr)
	}
	for _, id := range ids {
		m := out[id]
		d := daily[id]
		m.Days = days(first, d, downtime[id])
		m.Uptime7d = sumCounts(d[BarDays-7:]).Uptime()
		m.Uptime30d = sumCounts(d[BarDays-30:]).Uptime()
		m.Uptime90d = sumCounts(d).Uptime()
	}
	per := map[string]influxdb.Counts{}
	for _, rc := range counts {
		per[rc.WebsiteID] = per[rc.WebsiteID].Plus(rc.Counts)
	}
	for id, c := range per {
		if m := out[id]; m != nil {
			m.Uptime24h = c.Uptime()
		}
	}
	sum, n := map[string]float64{}, map[string]int{}
	for _, l := range latest {
		if l.ResponseMS > 0 {
			sum[l.WebsiteID] += l.ResponseMS
			n[l.WebsiteID]++
		}
	}
	for id, total := range sum {
		if m := out[id]; m != nil {
			v := total / float64(n[id])
			m.ResponseMS = &v
		}
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sumCounts(cs []influxdb.Counts) influxdb.Counts {
	var out influxdb.Counts
	for _, c := range cs {
		out = out.Plus(c)
	}
	return out
}

// days are the BarDays days of a bar from first, with their counts and incident time.
func days(first time.Time, counts []influxdb.Counts, downtime []int64) []Day {
	out := make([]Day, BarDays)
	for i := range BarDays {
		d := Day{Date: first.Add(time.Duration(i) * influxdb.Day), Uptime: counts[i].Uptime()}
		if downtime != nil {
			d.Downtime = downtime[i]
		}
		out[i] = d
	}
	return out
}
