package influxdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// The Flux in this file must run on InfluxDB 1.8 (local development and CI) as well as on 2.x:
// it filters on _field before any group(), and uses neither to(), the schema package nor query
// parameters, which 1.8 lacks. Without parameters the query text is built here, so nothing a
// user typed reaches it: website ids are parsed as UUIDs and re-rendered, region names must
// match the schema's pattern, numbers and times are formatted by this package, and the bucket
// is escaped as a Flux string.

// queryMeasurement is the measurement the worker writes every check result to.
const queryMeasurement = "check"

// MaxSeriesPoints is about how many points a response-time series has at most: the window is
// the smallest round duration that divides the range into no more than this many windows
// (plus one for a range that does not start on a window boundary).
const MaxSeriesPoints = 500

// MaxDays bounds the range of the series and breakdown queries.
const MaxDays = 365

var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidRegion reports whether name can be a region (the pattern of the regions table), and so
// can be put into a Flux query.
func ValidRegion(name string) bool { return regionPattern.MatchString(name) }

// QueryAPI is the part of the InfluxDB client that the Reader uses; api.QueryAPI satisfies it.
type QueryAPI interface {
	Query(ctx context.Context, query string) (*api.QueryTableResult, error)
}

// Reader answers the monitoring endpoints' questions about check results with Flux.
type Reader struct {
	q      QueryAPI
	bucket string
	now    func() time.Time
}

// NewReader returns a Reader on bucket ("vigil/autogen" on 1.8, "vigil" on 2.x). now is the
// clock that ranges end at (time.Now when nil); tests pin it.
func NewReader(q QueryAPI, bucket string, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{q: q, bucket: bucket, now: now}
}

// fluxString renders s as a Flux string literal. Flux strings interpolate ${...}, so the $ is
// escaped along with the quote and the backslash.
func fluxString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `${`, `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// fluxTime renders t as a Flux time literal.
func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// canonicalIDs parses ids as UUIDs and returns them in canonical form, sorted and without
// duplicates, ready to be put into a query.
func canonicalIDs(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("website id %q: %w", id, err)
		}
		out = append(out, u.String())
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// idFilter is a predicate on website_id for canonical ids. Several ids become one anchored
// regular expression of alternatives, which 1.8 pushes down to its series index: for 500 ids it
// answers in a tenth of the time of a chain of equalities, and contains() is not pushed down at
// all (a hundred times slower). Canonical UUIDs hold no regex metacharacters.
func idFilter(ids []string) string {
	if len(ids) == 1 {
		return `r.website_id == "` + ids[0] + `"`
	}
	return `r.website_id =~ /^(?:` + strings.Join(ids, "|") + `)$/`
}

// fieldFilter is a predicate on _field for names defined in this package.
func fieldFilter(fields ...string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = `r._field == "` + f + `"`
	}
	return "(" + strings.Join(parts, " or ") + ")"
}

// source is the start of every query: the check measurement of some websites over [start,
// stop), filtered on fields and, when region is set, on one region.
func (r *Reader) source(start, stop time.Time, ids []string, region string, fields ...string) string {
	pred := `r._measurement == "` + queryMeasurement + `" and ` + fieldFilter(fields...) + ` and ` + idFilter(ids)
	if region != "" {
		pred += ` and r.region == "` + region + `"`
	}
	return fmt.Sprintf("from(bucket: %s)\n  |> range(start: %s, stop: %s)\n  |> filter(fn: (r) => %s)",
		fluxString(r.bucket), fluxTime(start), fluxTime(stop), pred)
}

// run executes flux and calls fn with each record. A result that fails to close is an error
// too: the answer may not have been read to its end.
func (r *Reader) run(ctx context.Context, flux string, fn func(*query.FluxRecord) error) (err error) {
	res, err := r.q.Query(ctx, flux)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, res.Close()) }()
	for res.Next() {
		if err := fn(res.Record()); err != nil {
			return err
		}
	}
	return res.Err()
}

// Latest is the most recent check of one (website, region) pair.
type Latest struct {
	WebsiteID  string          `json:"website_id"`
	Region     string          `json:"region"`
	At         time.Time       `json:"at"`
	Outcome    monitor.Outcome `json:"outcome"`
	ResponseMS float64         `json:"response_ms"`
	StatusCode int             `json:"status_code"`
	Reason     string          `json:"reason,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// LatestSite asks for the latest checks of one website, which is checked every Interval.
type LatestSite struct {
	ID       string
	Interval time.Duration
}

// latestLookbacks are the ranges that Latest searches, by how often a website is checked: a
// website's latest check is looked for within three of its intervals (at least 15 minutes), so
// that a page of sites checked every few minutes reads minutes of data, not days. A pair
// without a check in that time has no latest result: its worker has not run it lately.
var latestLookbacks = []time.Duration{15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour}

// LatestLookback is how far back Latest looks for the latest check of a website checked every
// interval: a check older than that is not shown as the latest. Readers of the latest check
// from elsewhere (the workers' state in Redis) apply the same horizon, so that a pair reads the
// same whichever store answers.
func LatestLookback(interval time.Duration) time.Duration { return lookbackFor(interval) }

func lookbackFor(interval time.Duration) time.Duration {
	need := 3 * interval
	for _, lb := range latestLookbacks {
		if need <= lb {
			return lb
		}
	}
	return latestLookbacks[len(latestLookbacks)-1]
}

// Latest returns the most recent check of every region of the given websites, in one query
// (one branch per lookback class). Pairs without a recent check are absent.
func (r *Reader) Latest(ctx context.Context, sites []LatestSite) ([]Latest, error) {
	if len(sites) == 0 {
		return nil, nil
	}
	byLookback := map[time.Duration][]string{}
	for _, s := range sites {
		lb := lookbackFor(s.Interval)
		byLookback[lb] = append(byLookback[lb], s.ID)
	}
	stop := r.now().Add(time.Second) // include a check written in this very second
	var b strings.Builder
	for i, lb := range latestLookbacks {
		if len(byLookback[lb]) == 0 {
			continue
		}
		ids, err := canonicalIDs(byLookback[lb])
		if err != nil {
			return nil, fmt.Errorf("influxdb: latest: %w", err)
		}
		fmt.Fprintf(&b, "%s\n  |> last()\n  |> yield(name: \"l%d\")\n",
			r.source(stop.Add(-lb), stop, ids, "", "outcome", "response_ms", "status_code", "reason", "error"), i)
	}
	type key struct{ id, region string }
	type fields struct {
		outcome  *query.FluxRecord
		response *query.FluxRecord
		status   *query.FluxRecord
		reason   *query.FluxRecord
		errMsg   *query.FluxRecord
	}
	found := map[key]*fields{}
	err := r.run(ctx, b.String(), func(rec *query.FluxRecord) error {
		k := key{str(rec.ValueByKey("website_id")), str(rec.ValueByKey("region"))}
		f := found[k]
		if f == nil {
			f = &fields{}
			found[k] = f
		}
		switch rec.Field() {
		case "outcome":
			f.outcome = rec
		case "response_ms":
			f.response = rec
		case "status_code":
			f.status = rec
		case "reason":
			f.reason = rec
		case "error":
			f.errMsg = rec
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("influxdb: latest: %w", err)
	}
	out := make([]Latest, 0, len(found))
	for k, f := range found {
		if f.outcome == nil {
			continue
		}
		l := Latest{WebsiteID: k.id, Region: k.region, At: f.outcome.Time(), Outcome: monitor.Outcome(str(f.outcome.Value()))}
		// A field is part of the latest check only if it was written with it: a check that got
		// no response may carry no status code, and an older one must not show through.
		if f.response != nil && f.response.Time().Equal(l.At) {
			l.ResponseMS = num(f.response.Value())
		}
		if f.status != nil && f.status.Time().Equal(l.At) {
			l.StatusCode = int(num(f.status.Value()))
		}
		if f.reason != nil && f.reason.Time().Equal(l.At) {
			l.Reason = str(f.reason.Value())
		}
		if f.errMsg != nil && f.errMsg.Time().Equal(l.At) {
			l.Error = str(f.errMsg.Value())
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Latest) int {
		return cmp.Or(strings.Compare(a.WebsiteID, b.WebsiteID), strings.Compare(a.Region, b.Region))
	})
	return out, nil
}

// seriesWindows are the window sizes a series may use, smallest first.
var seriesWindows = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour,
}

// Window is the aggregation window of a series over rng: the smallest of a few round sizes
// that splits rng into at most MaxSeriesPoints windows.
func Window(rng time.Duration) time.Duration {
	for _, w := range seriesWindows {
		if rng <= w*MaxSeriesPoints {
			return w
		}
	}
	return seriesWindows[len(seriesWindows)-1]
}

// ValidDays reports whether days is a range that the series and breakdown queries accept.
func ValidDays(days int) bool { return days >= 1 && days <= MaxDays }

// Point is one window of a response-time series; At is the window's start.
type Point struct {
	At   time.Time `json:"at"`
	Mean float64   `json:"mean_ms"`
	Max  float64   `json:"max_ms"`
}

// Percentiles of response times over a range, in milliseconds; nil when there were no checks.
type Percentiles struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
}

// RegionSeries is the response-time series of one region.
type RegionSeries struct {
	Region      string       `json:"region"`
	Points      []Point      `json:"points"`
	Percentiles *Percentiles `json:"percentiles"`
}

// ResponseTimes is a website's response-time series over a range, one per region.
type ResponseTimes struct {
	Start  time.Time      `json:"start"`
	Stop   time.Time      `json:"stop"`
	Window time.Duration  `json:"-"`
	Series []RegionSeries `json:"series"`
	// Percentiles are over every check of the range in the regions asked for.
	Percentiles *Percentiles `json:"percentiles"`
}

var quantiles = []struct {
	name string
	q    float64
}{{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}}

// ResponseTimes returns the website's response times over the last days (1..MaxDays), in
// windows with the mean and the max, one series per region (only region when it is set), and
// the 50th, 95th and 99th percentiles (linearly interpolated between the nearest checks) per
// region and over all of them.
func (r *Reader) ResponseTimes(ctx context.Context, websiteID, region string, days int) (ResponseTimes, error) {
	id, err := checkRange(websiteID, region, days)
	if err != nil {
		return ResponseTimes{}, fmt.Errorf("influxdb: response times: %w", err)
	}
	stop := r.now()
	rng := time.Duration(days) * 24 * time.Hour
	start := stop.Add(-rng)
	win := Window(rng)
	recs := newSeriesRecords()
	if err := r.run(ctx, r.responseTimesFlux(start, stop, id, region, win), recs.add); err != nil {
		return ResponseTimes{}, fmt.Errorf("influxdb: response times %s: %w", id, err)
	}
	return recs.responseTimes(start, stop, win, region), nil
}

// checkRange checks the arguments of a query on one website over the last days, optionally in
// one region, and returns the website's canonical id.
func checkRange(websiteID, region string, days int) (string, error) {
	ids, err := canonicalIDs([]string{websiteID})
	if err != nil {
		return "", err
	}
	if region != "" && !ValidRegion(region) {
		return "", fmt.Errorf("invalid region %q", region)
	}
	if !ValidDays(days) {
		return "", fmt.Errorf("days %d out of 1..%d", days, MaxDays)
	}
	return ids[0], nil
}

// responseTimesFlux is the query of ResponseTimes: the windows' means and maxima (results
// "mean" and "max"), the percentiles per region (results "rp50", "rp95", "rp99") and, across
// regions, over all of them ("ap50"...).
func (r *Reader) responseTimesFlux(start, stop time.Time, id, region string, win time.Duration) string {
	every := strconv.FormatInt(int64(win/time.Second), 10) + "s"
	var b strings.Builder
	b.WriteString("data = " + r.source(start, stop, []string{id}, region, "response_ms") + "\n")
	// One window() feeds both aggregates, and the windows are not merged back into one table
	// (as aggregateWindow does): on 1.8 that is about four times faster. Each point is then
	// its own table, identified by its region and _start.
	fmt.Fprintf(&b, "windows = data |> window(every: %s)\n", every)
	b.WriteString("windows |> mean() |> yield(name: \"mean\")\n")
	b.WriteString("windows |> max() |> yield(name: \"max\")\n")
	// With one region asked for, its percentiles are the overall ones; otherwise the regions
	// are merged once (group() is the costly step on 1.8) for the three quantiles.
	if region == "" {
		b.WriteString("merged = data |> group()\n")
	}
	for _, q := range quantiles {
		fmt.Fprintf(&b, "data |> quantile(q: %g, method: \"exact_mean\") |> yield(name: \"r%s\")\n", q.q, q.name)
		if region == "" {
			fmt.Fprintf(&b, "merged |> quantile(q: %g, method: \"exact_mean\") |> yield(name: \"a%s\")\n", q.q, q.name)
		}
	}
	return b.String()
}

// seriesRecords gathers the records of a responseTimesFlux answer.
type seriesRecords struct {
	points    map[pointKey]*Point
	regionPct map[string]*Percentiles
	all       *Percentiles // across regions; nil until a record of it comes
}

// pointKey identifies a window of a region's series by the window's start.
type pointKey struct {
	region string
	at     int64
}

func newSeriesRecords() *seriesRecords {
	return &seriesRecords{points: map[pointKey]*Point{}, regionPct: map[string]*Percentiles{}}
}

// add takes one record: a window's mean or max, or a percentile of a region or of all.
func (s *seriesRecords) add(rec *query.FluxRecord) error {
	v, ok := rec.Value().(float64)
	if !ok {
		if rec.Value() == nil {
			return nil
		}
		v = num(rec.Value())
	}
	reg := str(rec.ValueByKey("region"))
	switch res := rec.Result(); {
	case res == "mean" || res == "max":
		k := pointKey{reg, rec.Start().UnixNano()}
		p := s.points[k]
		if p == nil {
			p = &Point{At: rec.Start()}
			s.points[k] = p
		}
		if res == "mean" {
			p.Mean = v
		} else {
			p.Max = v
		}
	case strings.HasPrefix(res, "r"):
		p := s.regionPct[reg]
		if p == nil {
			p = &Percentiles{}
			s.regionPct[reg] = p
		}
		p.set(res[1:], v)
	case strings.HasPrefix(res, "a"):
		if s.all == nil {
			s.all = &Percentiles{}
		}
		s.all.set(res[1:], v)
	}
	return nil
}

// set sets the percentile named as in quantiles.
func (p *Percentiles) set(name string, v float64) {
	switch name {
	case "p50":
		p.P50 = v
	case "p95":
		p.P95 = v
	case "p99":
		p.P99 = v
	}
}

// responseTimes sorts the records into one series per region, the regions in name order and
// each series' points in time order. A region with percentiles but no point still gets its
// (empty) series; with region set, the overall percentiles are that region's.
func (s *seriesRecords) responseTimes(start, stop time.Time, win time.Duration, region string) ResponseTimes {
	byRegion := map[string][]Point{}
	for k, p := range s.points {
		byRegion[k.region] = append(byRegion[k.region], *p)
	}
	all := s.all
	if region != "" {
		all = s.regionPct[region]
	}
	out := ResponseTimes{Start: start, Stop: stop, Window: win, Percentiles: all, Series: []RegionSeries{}}
	for reg := range s.regionPct {
		if _, ok := byRegion[reg]; !ok {
			byRegion[reg] = nil
		}
	}
	for reg, pts := range byRegion {
		slices.SortFunc(pts, func(a, b Point) int { return a.At.Compare(b.At) })
		if pts == nil {
			pts = []Point{}
		}
		out.Series = append(out.Series, RegionSeries{Region: reg, Points: pts, Percentiles: s.regionPct[reg]})
	}
	slices.SortFunc(out.Series, func(a, b RegionSeries) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// Counts are the checks of a range by outcome.
type Counts struct {
	Up       int64 `json:"up"`
	Degraded int64 `json:"degraded"`
	Down     int64 `json:"down"`
	Timeout  int64 `json:"timeout"`
	Blocked  int64 `json:"blocked"`
}

// countRecord adds a count record (its outcome and its count) to the Counts of k in acc.
func countRecord[K comparable](acc map[K]*Counts, k K, rec *query.FluxRecord) {
	c := acc[k]
	if c == nil {
		c = &Counts{}
		acc[k] = c
	}
	c.add(monitor.Outcome(str(rec.ValueByKey("outcome"))), int64(num(rec.Value())))
}

func (c *Counts) add(o monitor.Outcome, n int64) {
	switch o {
	case monitor.OutcomeUp:
		c.Up += n
	case monitor.OutcomeDegraded:
		c.Degraded += n
	case monitor.OutcomeDown:
		c.Down += n
	case monitor.OutcomeTimeout:
		c.Timeout += n
	case monitor.OutcomeBlocked:
		c.Blocked += n
	}
}

// Plus returns the sum of two counts.
func (c Counts) Plus(d Counts) Counts {
	return Counts{c.Up + d.Up, c.Degraded + d.Degraded, c.Down + d.Down, c.Timeout + d.Timeout, c.Blocked + d.Blocked}
}

// Checks is the number of checks that uptime is computed from: every outcome but blocked. A
// blocked check never reached the site (the SSRF guard refused the address), so it says
// nothing about the site's availability, just as it never opens an incident.
func (c Counts) Checks() int64 { return c.Up + c.Degraded + c.Down + c.Timeout }

// Total is every check, blocked ones included.
func (c Counts) Total() int64 { return c.Checks() + c.Blocked }

// Uptime is the percentage of Checks that were up or degraded, rounded to two decimals; nil
// when there were no checks.
func (c Counts) Uptime() *float64 {
	n := c.Checks()
	if n == 0 {
		return nil
	}
	u := math.Round(float64(c.Up+c.Degraded)/float64(n)*10000) / 100
	return &u
}

// Period is a range that uptime is computed over, ending now; Length 0 means all time.
type Period struct {
	Name   string
	Length time.Duration
}

// UptimePeriods are the ranges of GET /monitor/:id/uptime and GET /api/status.
var UptimePeriods = []Period{
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour},
	{"all", 0},
}

// RegionCounts are the outcome counts of one (website, region) pair over one period.
type RegionCounts struct {
	WebsiteID string
	Region    string
	Period    string
	Counts    Counts
}

// Outcomes counts the checks of the given websites by outcome, per region, over each period
// (all in one query). Pairs without checks in a period are absent.
func (r *Reader) Outcomes(ctx context.Context, websiteIDs []string, periods []Period) ([]RegionCounts, error) {
	if len(websiteIDs) == 0 || len(periods) == 0 {
		return nil, nil
	}
	ids, err := canonicalIDs(websiteIDs)
	if err != nil {
		return nil, fmt.Errorf("influxdb: outcomes: %w", err)
	}
	stop := r.now().Add(time.Second)
	var b strings.Builder
	for i, p := range periods {
		start := time.Unix(0, 0)
		if p.Length > 0 {
			start = stop.Add(-p.Length)
		}
		fmt.Fprintf(&b, "%s\n  |> duplicate(column: \"_value\", as: \"outcome\")\n"+
			"  |> group(columns: [\"website_id\", \"region\", \"outcome\"])\n  |> count()\n  |> yield(name: \"p%d\")\n",
			r.source(start, stop, ids, "", "outcome"), i)
	}
	type key struct{ id, region, period string }
	acc := map[key]*Counts{}
	err = r.run(ctx, b.String(), func(rec *query.FluxRecord) error {
		i, err := strconv.Atoi(strings.TrimPrefix(rec.Result(), "p"))
		if err != nil || i < 0 || i >= len(periods) {
			return fmt.Errorf("unexpected result %q", rec.Result())
		}
		k := key{str(rec.ValueByKey("website_id")), str(rec.ValueByKey("region")), periods[i].Name}
		countRecord(acc, k, rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("influxdb: outcomes: %w", err)
	}
	out := make([]RegionCounts, 0, len(acc))
	for k, c := range acc {
		out = append(out, RegionCounts{WebsiteID: k.id, Region: k.region, Period: k.period, Counts: *c})
	}
	slices.SortFunc(out, func(a, b RegionCounts) int {
		return cmp.Or(strings.Compare(a.WebsiteID, b.WebsiteID), strings.Compare(a.Period, b.Period),
			strings.Compare(a.Region, b.Region))
	})
	return out, nil
}

// StatusCount is how many checks got one HTTP status code; code 0 means no response.
type StatusCount struct {
	Code  int   `json:"code"`
	Count int64 `json:"count"`
}

// Phases are the mean durations of a check's phases, in milliseconds, over a range; nil when
// no check recorded the phase.
type Phases struct {
	DNS     *float64 `json:"dns_ms"`
	Connect *float64 `json:"connect_ms"`
	TLS     *float64 `json:"tls_ms"`
	TTFB    *float64 `json:"ttfb_ms"`
}

// Breakdown is how a website's checks over a range split by status code, and how long each
// phase took on average.
type Breakdown struct {
	StatusCodes []StatusCount `json:"status_codes"`
	Phases      Phases        `json:"phases"`
}

// Breakdown returns the website's checks over the last days by status code, and its mean
// phases, in every region or only in region.
func (r *Reader) Breakdown(ctx context.Context, websiteID, region string, days int) (Breakdown, error) {
	id, err := checkRange(websiteID, region, days)
	if err != nil {
		return Breakdown{}, fmt.Errorf("influxdb: breakdown: %w", err)
	}
	ids := []string{id}
	stop := r.now()
	start := stop.Add(-time.Duration(days) * 24 * time.Hour)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  |> duplicate(column: \"_value\", as: \"code\")\n  |> group(columns: [\"code\"])\n  |> count()\n  |> yield(name: \"codes\")\n",
		r.source(start, stop, ids, region, "status_code"))
	fmt.Fprintf(&b, "%s\n  |> group(columns: [\"_field\"])\n  |> mean()\n  |> yield(name: \"phases\")\n",
		r.source(start, stop, ids, region, "dns_ms", "connect_ms", "tls_ms", "ttfb_ms"))
	out := Breakdown{StatusCodes: []StatusCount{}}
	err = r.run(ctx, b.String(), func(rec *query.FluxRecord) error {
		if rec.Value() == nil {
			return nil
		}
		switch rec.Result() {
		case "codes":
			out.StatusCodes = append(out.StatusCodes, StatusCount{Code: int(num(rec.ValueByKey("code"))), Count: int64(num(rec.Value()))})
		case "phases":
			v := num(rec.Value())
			switch rec.Field() {
			case "dns_ms":
				out.Phases.DNS = &v
			case "connect_ms":
				out.Phases.Connect = &v
			case "tls_ms":
				out.Phases.TLS = &v
			case "ttfb_ms":
				out.Phases.TTFB = &v
			}
		}
		return nil
	})
	if err != nil {
		return Breakdown{}, fmt.Errorf("influxdb: breakdown %s: %w", ids[0], err)
	}
	slices.SortFunc(out.StatusCodes, func(a, b StatusCount) int { return a.Code - b.Code })
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// num reads a numeric Flux value whatever its column type (counts are longs, fields written
// as integers are longs, the rest are doubles).
func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case bool:
		if x {
			return 1
		}
	}
	return 0
}
