package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/jackc/pgx/v5"

	tsdb "github.com/vigil-monitor/vigil/pkg/influxdb" // the alias goes once issue 12's bench split lands
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

// routeResult is one route under load.
type routeResult struct {
	path, label       string
	serial            []time.Duration
	lats              []time.Duration
	errors            int
	elapsed           time.Duration
	apiCPU, influxCPU time.Duration
}

// apiSection is issue 8's fourth measurement: the real bin/api with 10,000 websites and 30 days
// of 1-minute results for one of them, 32 clients at once on each route.
func (b *bench) apiSection(ctx context.Context, s *section) error {
	sz := b.sz
	st, err := b.openStores(ctx, "api", "api", need{postgres: true, redis: true, influx: true})
	if err != nil {
		return err
	}
	defer b.closeStores(st)
	conn, db := st.conn, st.influxDB()
	ids := make([]uuid.UUID, sz.websites)
	for i := range ids {
		ids[i] = uuid.New()
	}
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"websites"}, []string{"id", "name", "url", "interval_seconds"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(ids) {
				return nil, nil
			}
			row := []any{ids[i], "site-" + strconv.Itoa(i), "https://site-" + strconv.Itoa(i) + ".example/", int32(60)}
			i++
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("api: copy websites: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}

	// Results, in the worker's own line protocol (tsdb.Line): the last 5 minutes of every
	// website, and 30 days at one a minute for the first.
	b.logf("api: writing results to InfluxDB")
	now := time.Now()
	var lines []string
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		err := b.influxWrite(ctx, db, strings.Join(lines, "\n"))
		lines = lines[:0]
		return err
	}
	result := func(id string, at time.Time, k int) monitor.Result {
		total := time.Duration(40+k%200) * time.Millisecond
		return monitor.Result{WebsiteID: id, Region: benchRegion, At: at, Outcome: monitor.OutcomeUp, StatusCode: 200,
			Phases: monitor.Phases{DNS: time.Millisecond, Connect: 5 * time.Millisecond, TTFB: total - 10*time.Millisecond, Total: total}}
	}
	for i, id := range ids {
		for k := range 5 {
			lines = append(lines, tsdb.Line(result(id.String(), now.Add(-time.Duration(k)*time.Minute-time.Second), i+k)))
		}
		if len(lines) >= 5000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	series := sz.seriesDays * 24 * 60
	for k := range series {
		lines = append(lines, tsdb.Line(result(ids[0].String(), now.Add(-time.Duration(k+5)*time.Minute), k)))
		if len(lines) >= 5000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	points, err := b.st.influxCount(ctx, db, "response_ms")
	if err != nil {
		return err
	}

	// Each pair's latest check in Redis, as the worker's completion leaves it (the real
	// completion script), so that GET /monitor reads it there as in production.
	states := queue.NewStateStore(b.st.rdb, queue.StateParams{Keys: queue.Keys{Prefix: st.prefix}, Region: benchRegion})
	if err := states.Load(ctx); err != nil {
		return err
	}
	for start := 0; start < len(ids); start += 500 {
		var cs []queue.Completion
		for i := start; i < min(start+500, len(ids)); i++ {
			r := result(ids[i].String(), now.Add(-time.Second), i)
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
	_, influxPID := b.storePIDs(ctx)

	id := ids[0].String()
	seriesPath := "/monitor/" + id + "?days=" + strconv.Itoa(sz.seriesDays)
	seriesLabel := fmt.Sprintf("GET /monitor/:id?days=%d (%s points)", sz.seriesDays, fmtInt(float64(series+5)))
	uptimePath := "/monitor/" + id + "/uptime"
	routes := []*routeResult{
		{path: "/monitor", label: "GET /monitor (first page of 50, latest check of each)"},
		{path: "/websites", label: "GET /websites (first page)"},
		{path: seriesPath, label: seriesLabel},
		{path: uptimePath, label: "GET /monitor/:id/uptime"},
	}
	// The series and uptime again on an API without its answer cache: every request is a
	// cold query to InfluxDB, as the first request for a (website, days, region) is.
	cold := []*routeResult{
		{path: seriesPath, label: seriesLabel + ", no cache"},
		{path: uptimePath, label: "GET /monitor/:id/uptime, no cache"},
	}
	// With the cache, a loaded run lasts longer than its TTL, so that it includes an expiry
	// (32 clients then wait on one coalesced cold query).
	cachedFor := sz.apiPerRoute
	if !b.o.smoke {
		cachedFor = max(sz.apiPerRoute, apiCacheTTL+time.Second)
	}
	s.setupf("the real `bin/api` on a database of its own with %s websites (COPY) and an InfluxDB database of its own holding %s points written in the worker's line protocol (`tsdb.Line`): the last 5 minutes of every website, and %d days at one check a minute for one website in one region; each pair's latest check in a Redis prefix of its own (`VIGIL_REDIS_PREFIX`), written by the worker's own completion script (`queue.StateStore.Complete`), which GET /monitor reads",
		fmtInt(float64(sz.websites)), fmtInt(float64(points)), sz.seriesDays)
	s.setupf("each route: %d sequential requests first (the latency without load), then %d clients in closed loops (keep-alive connections, each sends its next request when the last is answered) for %s; p50/p99 over every request of the loaded run", sz.apiSerialRuns, sz.apiClients, sz.apiPerRoute)
	s.setupf("the series and uptime routes are served through the API's answer cache (`VIGIL_API_CACHE_TTL`, default %s: an answer is kept that long per website, days and region, and concurrent requests for an answer not kept share one InfluxDB query); they are measured twice: on a first `bin/api` with `VIGIL_API_CACHE_TTL=0s` (cold: every request queries InfluxDB, as the first request for an answer does), then on the default one (warm), whose loaded run lasts %s%s", apiCacheTTL, cachedFor, map[bool]string{true: ", longer than the TTL, so that it includes an expiry"}[cachedFor > apiCacheTTL])
	s.setupf("CPU per request is the API process's and InfluxDB's utime+stime over the loaded run divided by the requests")

	coldAPI, coldBase, coldKey, err := b.startAPI(ctx, "api-cold", st, "VIGIL_API_CACHE_TTL=0s")
	if err != nil {
		return err
	}
	for _, r := range cold {
		b.logf("api: %s (no cache)", r.path)
		if err := loadRoute(ctx, coldBase+r.path, coldKey, r, sz.apiSerialRuns, sz.apiClients, sz.apiPerRoute, coldAPI.pid(), influxPID); err != nil {
			return errors.Join(err, coldAPI.stop(15*time.Second))
		}
	}
	if err := coldAPI.stop(15 * time.Second); err != nil {
		return err
	}

	api, base, key, err := b.startAPI(ctx, "api-load", st)
	if err != nil {
		return err
	}
	defer b.stop("api", api, 15*time.Second)
	for _, r := range routes {
		b.logf("api: %s", r.path)
		d := sz.apiPerRoute
		if r.path == seriesPath || r.path == uptimePath {
			d = cachedFor
		}
		if err := loadRoute(ctx, base+r.path, key, r, sz.apiSerialRuns, sz.apiClients, d, api.pid(), influxPID); err != nil {
			return err
		}
	}

	s.add(fmt.Sprintf("| route | alone p50 | p50 at %d clients | p99 at %d clients | max | requests/s | errors | API CPU/req | InfluxDB CPU/req |", sz.apiClients, sz.apiClients),
		"|---|---|---|---|---|---|---|---|---|")
	targets := map[string]time.Duration{routes[0].path: 50 * time.Millisecond, routes[1].path: 50 * time.Millisecond,
		routes[2].path: 250 * time.Millisecond, routes[3].path: 250 * time.Millisecond}
	for _, r := range append(slices.Clone(routes), cold...) {
		slices.Sort(r.serial)
		slices.Sort(r.lats)
		n := float64(len(r.lats))
		label := r.label
		if r.path == seriesPath || r.path == uptimePath {
			if !strings.HasSuffix(label, "no cache") {
				label += ", cache on (warm)"
			}
		}
		s.add(fmt.Sprintf("| %s | %s | %s | %s | %s | %.0f | %d | %s | %s |", label, fmtMS(percentile(r.serial, 0.5)),
			fmtMS(percentile(r.lats, 0.5)), fmtMS(percentile(r.lats, 0.99)), fmtMS(r.lats[len(r.lats)-1]),
			n/r.elapsed.Seconds(), r.errors, fmtMS(r.apiCPU/time.Duration(n)), fmtMS(r.influxCPU/time.Duration(n))))
	}
	s.add("", fmt.Sprintf("With %d clients in closed loops, latency is bounded below by Little's law: p50 ≈ %d ÷ requests/s, so on 2 cores a route whose request costs C of CPU (API plus InfluxDB) cannot have a p50 under about %d × C ÷ 2.", sz.apiClients, sz.apiClients, sz.apiClients))
	for _, r := range routes {
		target := targets[r.path]
		p99 := percentile(r.lats, 0.99)
		kind := "lists"
		if target > 50*time.Millisecond {
			kind = "30-day series"
			if strings.HasSuffix(r.path, "/uptime") {
				kind = "per-website aggregate (held to the series target; the issue names none)"
			}
		}
		what := strings.SplitN(r.label, " (", 2)[0] + " p99 at " + strconv.Itoa(sz.apiClients) + " clients"
		if r.path == seriesPath || r.path == uptimePath {
			what += ", cache on (warm)"
		}
		s.check(what, "< "+fmtMS(target)+" ("+kind+")",
			fmt.Sprintf("%s (p50 %s, alone %s)", fmtMS(p99), fmtMS(percentile(r.lats, 0.5)), fmtMS(percentile(r.serial, 0.5))), p99 < target && r.errors == 0)
		if p99 >= target || r.errors > 0 {
			n := float64(len(r.lats))
			cpu := (r.apiCPU + r.influxCPU) / time.Duration(n)
			why := fmt.Sprintf("**Why %s missed:** alone it takes %s; under %d clients each request costs %s of API CPU and %s of InfluxDB CPU (%s together), and %.0f requests/s used %.2f cores, so requests queue for the CPU: p99 %s.",
				strings.SplitN(r.label, " (", 2)[0], fmtMS(percentile(r.serial, 0.5)), sz.apiClients, fmtMS(r.apiCPU/time.Duration(n)), fmtMS(r.influxCPU/time.Duration(n)), fmtMS(cpu),
				n/r.elapsed.Seconds(), (r.apiCPU+r.influxCPU).Seconds()/r.elapsed.Seconds(), fmtMS(p99))
			switch {
			case strings.Contains(r.path, "?days="):
				why += fmt.Sprintf(" The series reads %s raw points through Flux on InfluxDB 1.8 for every request. Even with the answer cache, each expiry costs one such query, on the same cores. What would close the gap: a downsampled rollup (per-5-minute mean, max and count written alongside the raw points, or by a periodic task), so that a 30-day chart reads 8,640 points instead of 43,200 — a chart is about 1,000 pixels wide.", fmtInt(float64(series+5)))
			case strings.HasSuffix(r.path, "/uptime"):
				why += " Uptime counts outcomes over the whole window in Flux; even with the answer cache, each expiry costs one such query. What would close the gap: daily outcome counts kept as a rollup (one point per website, region and day), so that the answer reads 90 points."
			case r.path == "/monitor":
				why += " Each page reads the latest check of its 50 websites from the workers' state in Redis (one pipelined HMGET per pair) and the confirmed states and last downtimes from PostgreSQL (two queries); the time goes to those round trips and to waiting for a CPU."
			default:
				why += " The list is one indexed PostgreSQL query; the time goes to waiting for a CPU."
			}
			s.note(why)
		}
	}
	for _, c := range cold {
		warm := routes[2]
		if c.path == uptimePath {
			warm = routes[3]
		}
		name := strings.SplitN(warm.label, " (", 2)[0]
		s.info(name+" cold (no cache)", fmt.Sprintf("alone p50 %s; at %d clients p50 %s, p99 %s", fmtMS(percentile(c.serial, 0.5)),
			sz.apiClients, fmtMS(percentile(c.lats, 0.5)), fmtMS(percentile(c.lats, 0.99))))
		keyed, rollup := "website, days and region", "a per-5-minute count, sum and max of response_ms per pair (written by the worker alongside the raw points, or by a periodic task), so that a 30-day series reads 8,640 points instead of 43,200"
		if c.path == uptimePath {
			keyed, rollup = "website", "daily outcome counts per pair (one point per website, region and day), so that uptime reads about 90 counts instead of every raw point"
		}
		s.note(fmt.Sprintf("**What the cache does for %s, and what it does not:** the answer is kept for %s per %s, and concurrent requests for an answer that is not kept share one InfluxDB query. The rows with the cache on are warm: %d clients asking about the same website cost one InfluxDB query per %s; the request that finds the answer expired, and those that arrive while its query runs, wait for a cold query (the row's max). Cold, every request is a query: alone p50 %s, at %d clients p50 %s and p99 %s; the cache does not change that for the first request about a website, nor for clients asking about many different websites at once. What would make the cold query cheap: a downsampled rollup, %s.",
			name, apiCacheTTL, keyed, sz.apiClients, apiCacheTTL, fmtMS(percentile(c.serial, 0.5)), sz.apiClients, fmtMS(percentile(c.lats, 0.5)), fmtMS(percentile(c.lats, 0.99)), rollup))
	}
	return nil
}

// loadRoute measures one route alone and then under clients concurrent closed loops.
func loadRoute(ctx context.Context, u, key string, r *routeResult, serial, clients int, d time.Duration, apiPID, influxPID int) error {
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
	end := start.Add(d)
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
