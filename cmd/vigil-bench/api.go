package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// apiCacheTTL is bin/api's default VIGIL_API_CACHE_TTL, which the loaded runs of the cached
// routes outlast.
const apiCacheTTL = 15 * time.Second

// startAPI runs bin/api on a section's stores with an API key of its own, and returns it, its
// base URL and the key.
func (b *bench) startAPI(ctx context.Context, name string, st *sectionStores, extraEnv ...string) (*proc, string, string, error) {
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, "", "", err
	}
	key := "vigil_bench_" + hex.EncodeToString(k[:])
	env := []string{"VIGIL_API_KEY=" + key, "VIGIL_MAX_WEBSITES=0", "VIGIL_ALLOW_TARGETS=127.0.0.0/8", "VIGIL_LOG_LEVEL=warn"}
	if st.bucket == "" {
		// The API always reads InfluxDB: without a database of the section's own it gets the
		// default bucket, which it is not asked about.
		env = append(env, "INFLUXDB_URL="+b.o.influx, "INFLUXDB_TOKEN=")
	}
	p, addr, err := b.startRole(ctx, role{name: name, bin: b.bins.api, stores: st, env: append(env, extraEnv...),
		addrVar: "API_ADDR", ready: "/healthz", within: time.Minute})
	if err != nil {
		return nil, "", "", err
	}
	return p, "http://" + addr, key, nil
}

// routeResult is one route under load: what the plan says of it, then what was measured.
type routeResult struct {
	path, label string
	target      time.Duration // the p99 a warm route is held to under load
	kind        string        // what kind of route the target is for
	cached      bool          // served through the API's answer cache (the series and uptime)
	warm        *routeResult  // for a route measured without the cache: the same route with it
	d           time.Duration // how long the loaded run lasts
	serial      []time.Duration
	lats        []time.Duration
	errors      int
	elapsed     time.Duration
	apiCPU      time.Duration
	influxCPU   time.Duration
}

// name is the route without its explanation, e.g. "GET /websites".
func (r *routeResult) name() string { return strings.SplitN(r.label, " (", 2)[0] }

func (r *routeResult) p50() time.Duration   { return percentile(r.lats, 0.5) }
func (r *routeResult) p99() time.Duration   { return percentile(r.lats, 0.99) }
func (r *routeResult) alone() time.Duration { return percentile(r.serial, 0.5) }

// perRequest is cpu spread over the loaded run's requests.
func (r *routeResult) perRequest(cpu time.Duration) time.Duration {
	return cpu / time.Duration(len(r.lats))
}

// rate is the loaded run's requests/s.
func (r *routeResult) rate() float64 { return float64(len(r.lats)) / r.elapsed.Seconds() }

// missed says whether a warm route failed its target.
func (r *routeResult) missed() bool { return r.p99() >= r.target || r.errors > 0 }

// apiPlan is what the API section loads: the routes on the API with its answer cache (warm),
// and the series and uptime again on one without it (cold).
type apiPlan struct {
	warm, cold   []*routeResult
	seriesPoints int           // the points of the one website's series
	cachedFor    time.Duration // the loaded run of a cached route
	influxPID    int
}

// apiSection is issue 8's fourth measurement: the real bin/api with 10,000 websites and 30 days
// of 1-minute results for one of them, 32 clients at once on each route.
func (b *bench) apiSection(ctx context.Context, s *section) error {
	st, err := b.openStores(ctx, "api", "api", need{postgres: true, redis: true, influx: true})
	if err != nil {
		return err
	}
	defer b.closeStores(st)
	ids := make([]uuid.UUID, b.sz.websites)
	for i := range ids {
		ids[i] = uuid.New()
	}
	if err := copyWebsites(ctx, st.conn, ids, 0, len(ids), 60, 0); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if _, err := st.conn.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}
	plan := b.newAPIPlan(ctx, ids[0])
	now := time.Now()
	points, err := b.writeAPIResults(ctx, st.influxDB(), ids, now, plan.seriesPoints)
	if err != nil {
		return err
	}
	if err := b.writePairStates(ctx, st, ids, now); err != nil {
		return err
	}
	b.describeAPI(s, plan, points)
	if err := b.loadAPI(ctx, "api-cold", st, plan, plan.cold, "VIGIL_API_CACHE_TTL=0s"); err != nil {
		return err
	}
	if err := b.loadAPI(ctx, "api-load", st, plan, plan.warm); err != nil {
		return err
	}
	b.reportAPI(s, plan)
	return nil
}

// newAPIPlan lays out the routes about the website with the long series.
func (b *bench) newAPIPlan(ctx context.Context, id uuid.UUID) *apiPlan {
	sz := b.sz
	p := &apiPlan{seriesPoints: sz.seriesDays*24*60 + 5, cachedFor: sz.apiPerRoute}
	// With the cache, a loaded run lasts longer than its TTL, so that it includes an expiry
	// (32 clients then wait on one coalesced cold query).
	if !b.o.smoke {
		p.cachedFor = max(sz.apiPerRoute, apiCacheTTL+time.Second)
	}
	_, p.influxPID = b.storePIDs(ctx)
	const list, series = 50 * time.Millisecond, 250 * time.Millisecond
	seriesPath := "/monitor/" + id.String() + "?days=" + strconv.Itoa(sz.seriesDays)
	seriesLabel := fmt.Sprintf("GET /monitor/:id?days=%d (%s points)", sz.seriesDays, fmtInt(float64(p.seriesPoints)))
	uptimePath := "/monitor/" + id.String() + "/uptime"
	p.warm = []*routeResult{
		{path: "/monitor", label: "GET /monitor (first page of 50, latest check of each)", target: list, kind: "lists", d: sz.apiPerRoute},
		{path: "/websites", label: "GET /websites (first page)", target: list, kind: "lists", d: sz.apiPerRoute},
		{path: seriesPath, label: seriesLabel, target: series, kind: "30-day series", cached: true, d: p.cachedFor},
		{path: uptimePath, label: "GET /monitor/:id/uptime", target: series, cached: true, d: p.cachedFor,
			kind: "per-website aggregate (held to the series target; the issue names none)"},
	}
	// The series and uptime again on an API without its answer cache: every request is a
	// cold query to InfluxDB, as the first request for a (website, days, region) is.
	p.cold = []*routeResult{
		{path: seriesPath, label: seriesLabel + ", no cache", warm: p.warm[2], d: sz.apiPerRoute},
		{path: uptimePath, label: "GET /monitor/:id/uptime, no cache", warm: p.warm[3], d: sz.apiPerRoute},
	}
	return p
}

// apiResult is the k-th result of a website, as the worker would write it.
func apiResult(id string, at time.Time, k int) monitor.Result {
	total := time.Duration(40+k%200) * time.Millisecond
	return monitor.Result{WebsiteID: id, Region: benchRegion, At: at, Outcome: monitor.OutcomeUp, StatusCode: 200,
		Phases: monitor.Phases{DNS: time.Millisecond, Connect: 5 * time.Millisecond, TTFB: total - 10*time.Millisecond, Total: total}}
}

// writeAPIResults writes results in the worker's own line protocol (influxdb.Line), 5,000 lines a
// request: the last 5 minutes of every website, and a series at one a minute for the first.
// It returns the points InfluxDB then counts.
func (b *bench) writeAPIResults(ctx context.Context, db string, ids []uuid.UUID, now time.Time, seriesPoints int) (int64, error) {
	b.logf("api: writing results to InfluxDB")
	var lines []string
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		err := b.influxWrite(ctx, db, strings.Join(lines, "\n"))
		lines = lines[:0]
		return err
	}
	add := func(r monitor.Result) error {
		lines = append(lines, influxdb.Line(r))
		if len(lines) < 5000 {
			return nil
		}
		return flush()
	}
	for i, id := range ids {
		for k := range 5 {
			if err := add(apiResult(id.String(), now.Add(-time.Duration(k)*time.Minute-time.Second), i+k)); err != nil {
				return 0, err
			}
		}
	}
	for k := range seriesPoints - 5 {
		if err := add(apiResult(ids[0].String(), now.Add(-time.Duration(k+5)*time.Minute), k)); err != nil {
			return 0, err
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return b.st.influxCount(ctx, db, "response_ms")
}

// writePairStates leaves each pair's latest check in Redis as the worker's completion does (the
// real completion script), so that GET /monitor reads it there as in production.
func (b *bench) writePairStates(ctx context.Context, st *sectionStores, ids []uuid.UUID, now time.Time) error {
	states := queue.NewStateStore(b.st.rdb, queue.StateParams{Keys: queue.Keys{Prefix: st.prefix}, Region: benchRegion})
	if err := states.Load(ctx); err != nil {
		return err
	}
	for start := 0; start < len(ids); start += 500 {
		var cs []queue.Completion
		for i := start; i < min(start+500, len(ids)); i++ {
			r := apiResult(ids[i].String(), now.Add(-time.Second), i)
			cs = append(cs, queue.Completion{Now: r.At, Result: r, Delivery: queue.Delivery{ID: "1-" + strconv.Itoa(i+1),
				Job: monitor.Job{WebsiteID: r.WebsiteID, Region: benchRegion, DueAt: r.At.UnixMilli()}}})
		}
		res, err := states.Complete(ctx, cs)
		if err != nil {
			return fmt.Errorf("api: pair states: %w", err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("api: pair state: %w", r.Err)
			}
		}
	}
	return nil
}

// describeAPI says how the section was run.
func (b *bench) describeAPI(s *section, p *apiPlan, points int64) {
	sz := b.sz
	s.setupf("the real `bin/api` on a database of its own with %s websites (COPY) and an InfluxDB database of its own holding %s points written in the worker's line protocol (`influxdb.Line`): the last 5 minutes of every website, and %d days at one check a minute for one website in one region; each pair's latest check in a Redis prefix of its own (`VIGIL_REDIS_PREFIX`), written by the worker's own completion script (`queue.StateStore.Complete`), which GET /monitor reads",
		fmtInt(float64(sz.websites)), fmtInt(float64(points)), sz.seriesDays)
	s.setupf("each route: %d sequential requests first (the latency without load), then %d clients in closed loops (keep-alive connections, each sends its next request when the last is answered) for %s; p50/p99 over every request of the loaded run", sz.apiSerialRuns, sz.apiClients, sz.apiPerRoute)
	s.setupf("the series and uptime routes are served through the API's answer cache (`VIGIL_API_CACHE_TTL`, default %s: an answer is kept that long per website, days and region, and concurrent requests for an answer not kept share one InfluxDB query); they are measured twice: on a first `bin/api` with `VIGIL_API_CACHE_TTL=0s` (cold: every request queries InfluxDB, as the first request for an answer does), then on the default one (warm), whose loaded run lasts %s%s", apiCacheTTL, p.cachedFor, map[bool]string{true: ", longer than the TTL, so that it includes an expiry"}[p.cachedFor > apiCacheTTL])
	s.setupf("CPU per request is the API process's and InfluxDB's utime+stime over the loaded run divided by the requests")
}

// loadAPI starts an API on the section's stores, loads each route on it, and stops it.
func (b *bench) loadAPI(ctx context.Context, name string, st *sectionStores, p *apiPlan, routes []*routeResult, extraEnv ...string) error {
	api, base, key, err := b.startAPI(ctx, name, st, extraEnv...)
	if err != nil {
		return err
	}
	for _, r := range routes {
		b.logf("api: %s%s", r.path, map[bool]string{true: " (no cache)"}[r.warm != nil])
		err := loadRoute(ctx, base+r.path, key, r, b.sz.apiSerialRuns, b.sz.apiClients, api.pid(), p.influxPID)
		if err != nil {
			return errors.Join(err, api.stop(15*time.Second))
		}
	}
	return api.stop(15 * time.Second)
}

// reportAPI writes the section's table, verdicts and notes.
func (b *bench) reportAPI(s *section, p *apiPlan) {
	clients := b.sz.apiClients
	s.table("route", "alone p50", fmt.Sprintf("p50 at %d clients", clients), fmt.Sprintf("p99 at %d clients", clients), "max",
		"requests/s", "errors", "API CPU/req", "InfluxDB CPU/req")
	for _, r := range append(slices.Clone(p.warm), p.cold...) {
		label := r.label
		if r.cached {
			label += ", cache on (warm)"
		}
		s.row(label, fmtMS(r.alone()), fmtMS(r.p50()), fmtMS(r.p99()), fmtMS(r.lats[len(r.lats)-1]),
			fmt.Sprintf("%.0f", r.rate()), strconv.Itoa(r.errors), fmtMS(r.perRequest(r.apiCPU)), fmtMS(r.perRequest(r.influxCPU)))
	}
	s.add("", fmt.Sprintf("With %d clients in closed loops, latency is bounded below by Little's law: p50 ≈ %d ÷ requests/s, so on 2 cores a route whose request costs C of CPU (API plus InfluxDB) cannot have a p50 under about %d × C ÷ 2.", clients, clients, clients))
	for _, r := range p.warm {
		what := r.name() + " p99 at " + strconv.Itoa(clients) + " clients"
		if r.cached {
			what += ", cache on (warm)"
		}
		s.check(what, "< "+fmtMS(r.target)+" ("+r.kind+")",
			fmt.Sprintf("%s (p50 %s, alone %s)", fmtMS(r.p99()), fmtMS(r.p50()), fmtMS(r.alone())), !r.missed())
		if r.missed() {
			s.note(whyRouteMissed(r, clients, p.seriesPoints))
		}
	}
	for _, c := range p.cold {
		s.info(c.warm.name()+" cold (no cache)", fmt.Sprintf("alone p50 %s; at %d clients p50 %s, p99 %s", fmtMS(c.alone()),
			clients, fmtMS(c.p50()), fmtMS(c.p99())))
		s.note(cacheNote(c, clients))
	}
}

// whyRouteMissed explains a warm route's missed target from its CPU and what it reads.
func whyRouteMissed(r *routeResult, clients, seriesPoints int) string {
	why := fmt.Sprintf("**Why %s missed:** alone it takes %s; under %d clients each request costs %s of API CPU and %s of InfluxDB CPU (%s together), and %.0f requests/s used %.2f cores, so requests queue for the CPU: p99 %s.",
		r.name(), fmtMS(r.alone()), clients, fmtMS(r.perRequest(r.apiCPU)), fmtMS(r.perRequest(r.influxCPU)), fmtMS(r.perRequest(r.apiCPU+r.influxCPU)),
		r.rate(), (r.apiCPU+r.influxCPU).Seconds()/r.elapsed.Seconds(), fmtMS(r.p99()))
	switch {
	case strings.Contains(r.path, "?days="):
		return why + fmt.Sprintf(" The series reads %s raw points through Flux on InfluxDB 1.8 for every request. Even with the answer cache, each expiry costs one such query, on the same cores. What would close the gap: a downsampled rollup (per-5-minute mean, max and count written alongside the raw points, or by a periodic task), so that a 30-day chart reads 8,640 points instead of 43,200 — a chart is about 1,000 pixels wide.", fmtInt(float64(seriesPoints)))
	case strings.HasSuffix(r.path, "/uptime"):
		return why + " Uptime counts outcomes over the whole window in Flux; even with the answer cache, each expiry costs one such query. What would close the gap: daily outcome counts kept as a rollup (one point per website, region and day), so that the answer reads 90 points."
	case r.path == "/monitor":
		return why + " Each page reads the latest check of its 50 websites from the workers' state in Redis (one pipelined HMGET per pair) and the confirmed states and last downtimes from PostgreSQL (two queries); the time goes to those round trips and to waiting for a CPU."
	default:
		return why + " The list is one indexed PostgreSQL query; the time goes to waiting for a CPU."
	}
}

// cacheNote says what the answer cache does for a cold route's warm twin, and what it does not.
func cacheNote(c *routeResult, clients int) string {
	keyed, rollup := "website, days and region", "a per-5-minute count, sum and max of response_ms per pair (written by the worker alongside the raw points, or by a periodic task), so that a 30-day series reads 8,640 points instead of 43,200"
	if strings.HasSuffix(c.path, "/uptime") {
		keyed, rollup = "website", "daily outcome counts per pair (one point per website, region and day), so that uptime reads about 90 counts instead of every raw point"
	}
	return fmt.Sprintf("**What the cache does for %s, and what it does not:** the answer is kept for %s per %s, and concurrent requests for an answer that is not kept share one InfluxDB query. The rows with the cache on are warm: %d clients asking about the same website cost one InfluxDB query per %s; the request that finds the answer expired, and those that arrive while its query runs, wait for a cold query (the row's max). Cold, every request is a query: alone p50 %s, at %d clients p50 %s and p99 %s; the cache does not change that for the first request about a website, nor for clients asking about many different websites at once. What would make the cold query cheap: a downsampled rollup, %s.",
		c.warm.name(), apiCacheTTL, keyed, clients, apiCacheTTL, fmtMS(c.alone()), clients, fmtMS(c.p50()), fmtMS(c.p99()), rollup)
}

// loadRoute measures one route alone and then under clients concurrent closed loops.
// Its latencies come out sorted.
func loadRoute(ctx context.Context, u, key string, r *routeResult, serial, clients int, apiPID, influxPID int) error {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: clients}}
	get := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		err = errors.Join(err, resp.Body.Close())
		took := time.Since(t0)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return took, nil
	}
	for range 3 { // warm-up: connections, prepared statements, InfluxDB's caches
		if _, err := get(); err != nil {
			return err
		}
	}
	for range serial {
		took, err := get()
		if err != nil {
			return err
		}
		r.serial = append(r.serial, took)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	api0, influx0 := procCPU(apiPID), procCPU(influxPID)
	start := time.Now()
	end := start.Add(r.d)
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			errs := 0
			var last error
			for time.Now().Before(end) && ctx.Err() == nil {
				took, err := get()
				if err != nil {
					errs++
					last = err
					continue
				}
				mine = append(mine, took)
			}
			mu.Lock()
			r.lats = append(r.lats, mine...)
			r.errors += errs
			if firstErr == nil {
				firstErr = last
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.apiCPU, r.influxCPU = procCPU(apiPID)-api0, procCPU(influxPID)-influx0
	if len(r.lats) == 0 {
		return fmt.Errorf("GET %s: no request succeeded under load: %v", u, firstErr)
	}
	slices.Sort(r.serial)
	slices.Sort(r.lats)
	return nil
}

// patchWebsite changes a website's fields through the API, as a user would.
func patchWebsite(ctx context.Context, apiURL, key, id string, fields map[string]any) error {
	return apiDo(ctx, http.MethodPatch, apiURL+"/websites/"+id, key, fields)
}

// apiDo sends a JSON request to the API and fails on anything but 2xx.
func apiDo(ctx context.Context, method, url, key string, body any) (err error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	if resp.StatusCode/100 != 2 {
		msg, err := io.ReadAll(resp.Body)
		if err != nil {
			msg = []byte(err.Error())
		}
		return fmt.Errorf("%s %s: %s %s", method, url, resp.Status, msg)
	}
	return nil
}

// influxWrite posts line protocol to a 1.8 database.
func (b *bench) influxWrite(ctx context.Context, db, body string) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.influx+"/write?precision=ns&db="+url.QueryEscape(db), strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("influxdb write: %w", err)
	}
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	if resp.StatusCode != http.StatusNoContent {
		msg, err := io.ReadAll(resp.Body)
		if err != nil {
			msg = []byte(err.Error())
		}
		return fmt.Errorf("influxdb write: %s %s", resp.Status, msg)
	}
	return nil
}
