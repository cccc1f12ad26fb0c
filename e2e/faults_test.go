package e2e

// The fault suite (issue 7): each case runs the whole platform (api, two schedulers, workers in
// two regions, the notifier and an SMTP sink) against real stores, injects one fault, and checks
// what was lost, what was duplicated and how long recovery took. Recovery times are logged as
// "MEASURE <test>: <what> = <value>" lines, which docs/reliability.md collects.
//
//	make test-faults                      # the short versions (CI)
//	VIGIL_FAULTS_FULL=1 make test-faults  # the long versions: a 60 s InfluxDB outage, a 2 min flood

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/connect"
)

// faultRoles is a running platform.
type faultRoles struct {
	API      *Proc
	Scheds   []*Proc
	Workers  map[string]*Proc
	Notifier *Proc
}

// startAll starts the api (creating the regions europe and asia), two schedulers, the workers
// (name -> region), an SMTP sink and a notifier.
func (fp *faultPlatform) startAll(workers map[string]string) *faultRoles {
	fp.t.Helper()
	r := &faultRoles{Workers: map[string]*Proc{}}
	r.API = fp.StartAPI()
	fp.CreateRegions("europe", "asia")
	r.Scheds = []*Proc{fp.StartScheduler("scheduler-a"), fp.StartScheduler("scheduler-b")}
	for name, region := range workers {
		r.Workers[name] = fp.StartWorker(name, region)
	}
	fp.StartSink()
	r.Notifier = fp.StartNotifier("notifier-1")
	waitFor(fp.t, 15*time.Second, "a scheduler leads", func() bool { return fp.Leader(r.Scheds...) != nil })
	return r
}

// everyPairHasPoints waits until each website has at least n points in each region.
func (fp *faultPlatform) everyPairHasPoints(timeout time.Duration, sites []string, n int, regions ...string) {
	fp.t.Helper()
	waitFor(fp.t, timeout, "every pair has points", func() bool {
		pts := fp.PointTimes()
		for _, id := range sites {
			for _, r := range regions {
				if len(pts[id+"/"+r]) < n {
					return false
				}
			}
		}
		return true
	})
}

// drainAndCompare stops the schedulers, waits until every job of the regions is acknowledged,
// and then until InfluxDB holds exactly one point per stream entry of each pair: nothing lost,
// nothing written twice.
// Points before since (unix ms; 0 for all) are left out: a test whose Redis lost the stream
// compares only what came after.
func (fp *faultPlatform) drainAndCompare(r *faultRoles, since int64, regions ...string) (jobs int) {
	fp.t.Helper()
	jobs, missing := fp.drainAndCount(r, since, regions...)
	require.Empty(fp.t, missing, "points lost")
	return jobs
}

// drainAndCount is drainAndCompare that returns the pairs with fewer points than jobs (and how
// many fewer) instead of failing on them; more points than jobs still fails.
func (fp *faultPlatform) drainAndCount(r *faultRoles, since int64, regions ...string) (jobs int, missing map[string]int) {
	fp.t.Helper()
	for _, s := range r.Scheds {
		if s.Alive() {
			require.NoError(fp.t, s.Stop(15*time.Second))
		}
	}
	for _, region := range regions {
		waitFor(fp.t, 30*time.Second, "every job of "+region+" acknowledged", func() bool {
			return fp.Pending(region) == 0 && fp.GroupLag(region) == 0
		})
	}
	want := map[string]int{}
	for _, region := range regions {
		for _, j := range fp.StreamJobs(region) {
			want[j.Job.WebsiteID+"/"+region]++
			jobs++
		}
	}
	var diff []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := fp.PointTimes()
		diff = diff[:0]
		missing = map[string]int{}
		for k, n := range want {
			m := 0
			for _, at := range got[k] {
				if at >= since {
					m++
				}
			}
			if m > n {
				diff = append(diff, fmt.Sprintf("%s: %d jobs, %d points", k, n, m))
			}
			if m < n {
				missing[k] = n - m
			}
		}
		if (len(diff) == 0 && len(missing) == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling InfluxDB, deadline above
	}
	require.Empty(fp.t, diff, "points written twice")
	return jobs, missing
}

// TestFaultWorkerKilled: a worker is killed (SIGKILL) with checks in flight. Another consumer of
// the region reclaims them once they have been pending for their timeout plus the reclaim
// grace; no job is lost or run twice, and no series has a gap longer than one interval plus
// that threshold (plus one reclaim period).
func TestFaultWorkerKilled(t *testing.T) {
	t.Parallel()
	fp := newFaultPlatform(t)
	r := fp.startAll(map[string]string{"europe-1": "europe", "europe-2": "europe", "asia-1": "asia"})

	const timeout = 6 * time.Second
	target := slowTarget(t, 2*time.Second)
	var sites []string
	for i := range 12 {
		sites = append(sites, fp.CreateWebsite(map[string]any{
			"name": fmt.Sprintf("slow-%d", i), "url": target, "timeout_ms": timeout.Milliseconds(),
		}))
	}
	fp.everyPairHasPoints(40*time.Second, sites, 1, "europe", "asia")

	victim := r.Workers["europe-1"]
	// Kill it just after it finished a check (whose result may still sit in its InfluxDB
	// writer's buffer) while others are still running.
	before, _ := fp.Metric(victim, "vigil_checks_total")
	waitFor(t, 30*time.Second, "europe-1 finishes a check with others in flight", func() bool {
		checks, _ := fp.Metric(victim, "vigil_checks_total")
		v, ok := fp.Metric(victim, "vigil_worker_checks_in_flight")
		if checks == before {
			return false
		}
		before = checks
		return ok && v >= 1
	})
	inFlight, _ := fp.Metric(victim, "vigil_worker_checks_in_flight")
	killedAt := time.Now()
	victim.Kill()
	logMeasure(t, "checks in flight at the kill", inFlight)

	rdb := fp.Redis()
	took := waitFor(t, timeout+faultReclaimGrace+20*time.Second, "europe-1's jobs taken over", func() bool {
		cs, err := rdb.XInfoConsumers(context.Background(), fp.Prefix+":checks:europe", "vigil").Result()
		if err != nil {
			return false
		}
		for _, c := range cs {
			if c.Name == "europe-1" {
				return c.Pending == 0
			}
		}
		return true
	})
	reclaimed, _ := fp.Metric(r.Workers["europe-2"], "vigil_worker_jobs_reclaimed_total")
	require.GreaterOrEqual(t, reclaimed, 1.0, "europe-2 reclaimed the dead worker's jobs")
	logMeasure(t, "jobs reclaimed", reclaimed)
	logMeasure(t, "kill to last job taken over", took.Round(100*time.Millisecond))

	// One more interval, so that every pair has run after the takeover.
	waitFor(t, 2*faultInterval, "an interval after the takeover", func() bool {
		return time.Since(killedAt) > took+faultInterval+timeout
	})
	jobs, missing := fp.drainAndCount(r, 0, "europe", "asia")
	logMeasure(t, "jobs checked", jobs)
	for _, region := range []string{"europe", "asia"} {
		require.Empty(t, duplicateDues(fp.StreamJobs(region)), "a due time dispatched twice in %s", region)
	}
	// Known defect (docs/reliability.md): a worker acknowledges a job once its result is in
	// the InfluxDB writer's buffer, which it posts every second, so SIGKILL loses the results
	// of the checks it finished in its last second. The job is not lost (it was done and
	// acknowledged); its point is. VIGIL_FAULTS_STRICT=1 makes this a failure.
	lost := 0
	for k, n := range missing {
		require.True(t, strings.HasSuffix(k, "/europe"), "point lost in %s, away from the killed worker", k)
		require.Equal(t, 1, n, "more than one point lost in %s", k)
		lost += n
	}
	logMeasure(t, "points lost (acknowledged, still in the killed worker's writer buffer)", lost)
	if os.Getenv("VIGIL_FAULTS_STRICT") == "1" {
		require.Zero(t, lost, "points lost")
	}
	require.LessOrEqual(t, lost, 2, "more points lost than the killed worker finished in its last second")

	bound := faultInterval + timeout + faultReclaimGrace + faultReclaimEvery + 2*time.Second
	var worst time.Duration
	for k, ts := range fp.PointTimes() {
		g := maxGap(ts, killedAt.Add(-2*faultInterval).UnixMilli())
		if missing[k] > 0 {
			// The lost point leaves one more interval.
			g -= faultInterval
		}
		require.LessOrEqual(t, g, bound, "gap in %s", k)
		worst = max(worst, g)
	}
	logMeasure(t, "longest gap in any series", worst)
	logMeasure(t, "gap bound (interval + timeout + grace + reclaim period + 2 s)", bound)
}

// createSites creates n websites checked every 10 s from every region against url.
func (fp *faultPlatform) createSites(n int, url string, extra map[string]any) []string {
	fp.t.Helper()
	var ids []string
	for i := range n {
		f := map[string]any{"name": fmt.Sprintf("site-%d", i), "url": url, "timeout_ms": 3000}
		for k, v := range extra {
			f[k] = v
		}
		ids = append(ids, fp.CreateWebsite(f))
	}
	return ids
}

// outboxEmpty waits until the notifier has no notification left to send.
func (fp *faultPlatform) outboxEmpty(n *Proc) {
	fp.t.Helper()
	waitFor(fp.t, 30*time.Second, "the outbox drained", func() bool {
		v, ok := fp.Metric(n, "vigil_notifier_outbox_pending")
		return ok && v == 0
	})
}

// TestFaultSchedulerLeaderKilled: the leading scheduler is killed (SIGKILL). The standby takes
// the lock (PostgreSQL frees it with the dead session) and leads within 15 s; the fence keeps
// it from dispatching any (website, region, due time) twice, and the takeover window makes it
// dispatch what the dead leader missed, so the gap in each series stays bounded.
func TestFaultSchedulerLeaderKilled(t *testing.T) {
	t.Parallel()
	fp := newFaultPlatform(t)
	r := fp.startAll(map[string]string{"europe-1": "europe", "asia-1": "asia"})
	sites := fp.createSites(20, slowTarget(t, 0), nil)
	fp.everyPairHasPoints(40*time.Second, sites, 1, "europe", "asia")

	leader := fp.Leader(r.Scheds...)
	require.NotNil(t, leader)
	standby := r.Scheds[0]
	if standby == leader {
		standby = r.Scheds[1]
	}
	killedAt := time.Now()
	leader.Kill()
	takeover := waitFor(t, 15*time.Second, "the standby leads", func() bool { return fp.Leader(standby) == standby })
	logMeasure(t, "kill to standby leading", takeover.Round(100*time.Millisecond))

	waitFor(t, 3*faultInterval, "two intervals under the new leader", func() bool {
		return time.Since(killedAt) > takeover+2*faultInterval
	})
	jobs := fp.drainAndCompare(r, 0, "europe", "asia")
	logMeasure(t, "jobs checked, one point each", jobs)
	for _, region := range []string{"europe", "asia"} {
		require.Empty(t, duplicateDues(fp.StreamJobs(region)), "a due time dispatched twice in %s", region)
	}
	bound := faultInterval + takeover + 2*time.Second
	var worst time.Duration
	for k, ts := range fp.PointTimes() {
		g := maxGap(ts, killedAt.Add(-2*faultInterval).UnixMilli())
		require.LessOrEqual(t, g, bound, "gap in %s", k)
		worst = max(worst, g)
	}
	logMeasure(t, "longest gap in any series", worst)
}

// TestFaultRedisRestarted: Redis is killed and comes back empty on the same port. Every role
// reconnects on its own, the consumer groups are recreated, and checks resume within 10 s.
func TestFaultRedisRestarted(t *testing.T) {
	t.Parallel()
	rs := startPrivateRedis(t)
	fp := newFaultPlatform(t)
	fp.UseRedis(rs.Addr())
	r := fp.startAll(map[string]string{"europe-1": "europe", "asia-1": "asia"})
	sites := fp.createSites(10, slowTarget(t, 0), nil)
	fp.everyPairHasPoints(40*time.Second, sites, 1, "europe", "asia")

	rs.Kill()
	// Down long enough for every role to notice: each one's readiness fails on Redis.
	waitFor(t, 20*time.Second, "every role reports Redis down", func() bool {
		for _, pr := range append(append([]*Proc{r.Notifier}, r.Scheds...), r.Workers["europe-1"], r.Workers["asia-1"]) {
			resp, err := http.Get("http://" + fp.MetricsAddr(pr) + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return false
			}
		}
		return true
	})
	// Taken before the restart: the schedulers may dispatch, and a worker check, in the moment
	// between Redis accepting connections and Start returning.
	backAt := time.Now()
	rs.Start()

	first := waitFor(t, 10*time.Second, "a new point after Redis came back", func() bool {
		for _, ts := range fp.PointTimes() {
			if ts[len(ts)-1] > backAt.UnixMilli() {
				return true
			}
		}
		return false
	})
	logMeasure(t, "Redis back to the first new point", first.Round(100*time.Millisecond))
	all := waitFor(t, faultInterval+10*time.Second, "every pair checked again", func() bool {
		pts := fp.PointTimes()
		for _, id := range sites {
			for _, region := range []string{"europe", "asia"} {
				ts := pts[id+"/"+region]
				if len(ts) == 0 || ts[len(ts)-1] <= backAt.UnixMilli() {
					return false
				}
			}
		}
		return true
	})
	logMeasure(t, "Redis back to every pair checked again", all.Round(100*time.Millisecond))

	ctx := context.Background()
	rdb := fp.Redis()
	for _, stream := range []string{fp.Prefix + ":checks:europe", fp.Prefix + ":checks:asia", fp.Prefix + ":events"} {
		waitFor(t, 10*time.Second, "group on "+stream, func() bool {
			gs, err := rdb.XInfoGroups(ctx, stream).Result()
			return err == nil && len(gs) == 1 && gs[0].Name == "vigil"
		})
	}
	for _, pr := range append(append([]*Proc{r.API, r.Notifier}, r.Scheds...), r.Workers["europe-1"], r.Workers["asia-1"]) {
		require.True(t, pr.Alive(), "%s exited", pr.Name)
	}
	jobs := fp.drainAndCompare(r, backAt.UnixMilli(), "europe", "asia")
	logMeasure(t, "jobs since the restart, one point each", jobs)
	for _, region := range []string{"europe", "asia"} {
		require.Empty(t, duplicateDues(fp.StreamJobs(region)), "a due time dispatched twice in %s", region)
	}
}

// influxOutage is how long TestFaultInfluxDBStopped keeps InfluxDB down.
func influxOutage() time.Duration {
	if faultsFull() {
		return 60 * time.Second
	}
	return 25 * time.Second
}

// TestFaultInfluxDBStopped: InfluxDB stops for a while. Workers keep checking and acking, their
// writers keep the results for retry (bounded by influxdb.DefaultRetryBufferLimit points), and when
// InfluxDB returns every point of the outage is written: one per job.
func TestFaultInfluxDBStopped(t *testing.T) {
	t.Parallel()
	in := startPrivateInflux(t)
	fp := newFaultPlatform(t)
	fp.UseInflux(in.URL)
	r := fp.startAll(map[string]string{"europe-1": "europe", "asia-1": "asia"})
	sites := fp.createSites(10, slowTarget(t, 0), nil)
	fp.everyPairHasPoints(40*time.Second, sites, 1, "europe", "asia")

	workers := []*Proc{r.Workers["europe-1"], r.Workers["asia-1"]}
	checks := func() float64 {
		n := 0.0
		for _, w := range workers {
			v, _ := fp.Metric(w, "vigil_checks_total")
			n += v
		}
		return n
	}
	checksBefore := checks()
	in.Stop()
	stoppedAt := time.Now()
	waitFor(t, influxOutage()+30*time.Second, "the outage lasts, with failed writes and checks going on", func() bool {
		errs := 0.0
		for _, w := range workers {
			v, _ := fp.Metric(w, "vigil_tsdb_write_errors_total")
			errs += v
		}
		return time.Since(stoppedAt) >= influxOutage() && errs > 0
	})
	during := checks() - checksBefore
	logMeasure(t, "outage", time.Since(stoppedAt).Round(time.Second))
	logMeasure(t, "checks performed during the outage", during)
	require.Greater(t, during, 0.0, "workers kept checking")
	in.Start()
	backAt := time.Now()

	// Every point of the outage reaches InfluxDB; the retry backoff decides when.
	waitFor(t, 3*influxOutage()+30*time.Second, "the outage's points written", func() bool {
		n := 0
		for _, ts := range fp.PointTimes() {
			for _, at := range ts {
				if at >= stoppedAt.UnixMilli() && at < backAt.UnixMilli() {
					n++
				}
			}
		}
		return float64(n) >= during
	})
	logMeasure(t, "InfluxDB back to the outage's points written", time.Since(backAt).Round(100*time.Millisecond))
	jobs := fp.drainAndCompare(r, 0, "europe", "asia")
	logMeasure(t, "jobs checked, one point each", jobs)
	for _, w := range workers {
		require.NoError(t, w.Stop(15*time.Second))
		require.Contains(t, w.Output(), `"influx_dropped_batches":0`, "%s dropped batches", w.Name)
	}
}

// TestFaultPostgresStopped: PostgreSQL becomes unreachable for 30 s (a proxy between the
// platform and the server cuts every connection and refuses new ones). The API answers 503
// with a JSON error at once, the scheduler keeps dispatching from memory, the workers keep
// checking, and the notifier holds the transitions of an outage that starts meanwhile. When
// PostgreSQL returns, the incident is opened and its email sent, once.
func TestFaultPostgresStopped(t *testing.T) {
	t.Parallel()
	proxy := startTCPProxy(t, "127.0.0.1:5432")
	fp := newFaultPlatform(t)
	fp.UseDatabaseVia(proxy.Addr)
	r := fp.startAll(map[string]string{"europe-1": "europe", "asia-1": "asia"})
	sites := fp.createSites(5, slowTarget(t, 0), nil)
	target := newSwitchTarget(t)
	watched := fp.CreateWebsite(map[string]any{"name": "watched", "url": target.URL, "timeout_ms": 3000,
		"confirmations_down": 1, "confirmations_up": 1, "alert_emails": []string{"ops@example.com"}})
	sites = append(sites, watched)
	fp.everyPairHasPoints(40*time.Second, sites, 1, "europe", "asia")

	outage := 30 * time.Second
	xlen := func() int64 {
		n, _ := fp.Redis().XLen(context.Background(), fp.Prefix+":checks:europe").Result()
		return n
	}
	proxy.Down()
	downAt := time.Now()
	target.SetDown(true)

	// The API fails fast, with a JSON error and 503.
	client := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodGet, fp.APIURL+"/websites", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+fp.APIKey)
	start := time.Now()
	resp, err := client.Do(req)
	require.NoError(t, err, "the API answers while PostgreSQL is down")
	body := new(strings.Builder)
	_, _ = io.Copy(body, resp.Body)
	resp.Body.Close()
	logMeasure(t, "API answer time with PostgreSQL down", time.Since(start).Round(time.Millisecond))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "body %s", body)
	require.Equal(t, "application/json", strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	require.Contains(t, body.String(), `"error"`)

	// A server that accepts connections and then says nothing (hung, or a black hole) gets the
	// same answer, within the connect timeout, for requests that need a new connection.
	proxy.Down()
	proxy.Stall(true)
	proxy.Up()
	for range 2 {
		start := time.Now()
		resp, err := client.Do(req)
		require.NoError(t, err, "the API answers while PostgreSQL hangs")
		resp.Body.Close()
		took := time.Since(start)
		logMeasure(t, "API answer time with PostgreSQL hanging", took.Round(time.Millisecond))
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Less(t, took, connect.DefaultConnectTimeout+3*time.Second)
	}
	proxy.Down()
	proxy.Stall(false)

	lenAtCut := xlen()
	waitFor(t, outage+20*time.Second, "the outage lasts, with dispatches and the outage confirmed", func() bool {
		down := 0.0
		for _, w := range r.Workers {
			v, _ := fp.Metric(w, "vigil_worker_transitions_total", `state="down"`)
			down += v
		}
		return time.Since(downAt) >= outage && down >= 2
	})
	dispatched := xlen() - lenAtCut
	logMeasure(t, "jobs dispatched to europe while PostgreSQL was down", dispatched)
	require.Greater(t, dispatched, int64(0), "the scheduler kept dispatching")
	require.Empty(t, fp.Sink.Messages(), "no email before the incident is recorded")
	for _, pr := range append(append([]*Proc{r.API, r.Notifier}, r.Scheds...), r.Workers["europe-1"], r.Workers["asia-1"]) {
		require.True(t, pr.Alive(), "%s exited while PostgreSQL was down:\n%s", pr.Name, pr.Output())
	}

	proxy.Up()
	upAt := time.Now()
	api := waitFor(t, 30*time.Second, "the API answers 200 again", func() bool {
		code, _ := fp.Do(http.MethodGet, "/websites", "")
		return code == http.StatusOK
	})
	logMeasure(t, "PostgreSQL back to the API answering", api.Round(100*time.Millisecond))
	waitFor(t, 60*time.Second, "the down email", func() bool {
		return countPrefix(mailSubjects(t, fp.Sink.Messages())["ops@example.com"], "[DOWN]") >= 1
	})
	logMeasure(t, "PostgreSQL back to the down email", time.Since(upAt).Round(100*time.Millisecond))
	target.SetDown(false)
	waitFor(t, 60*time.Second, "the recovery email", func() bool {
		return countPrefix(mailSubjects(t, fp.Sink.Messages())["ops@example.com"], "[RECOVERED]") >= 1
	})
	code, body2 := fp.Do(http.MethodGet, "/incidents", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, strings.Count(string(body2), `"website_id":"`+watched+`"`), "one incident: %s", body2)
	// Nothing more is queued or arrives: one email of each kind.
	fp.outboxEmpty(r.Notifier)
	require.NoError(t, r.Notifier.Stop(15*time.Second))
	subjects := mailSubjects(t, fp.Sink.Messages())["ops@example.com"]
	require.Len(t, subjects, 2, "%q", subjects)
	jobs := fp.drainAndCompare(r, 0, "europe", "asia")
	logMeasure(t, "jobs checked, one point each", jobs)
}

// TestFaultSMTPDownAndNotifierKilled: an outage starts while the SMTP server is down, so its
// emails fail and wait for a retry; then the notifier is killed (SIGKILL) in the middle of a
// send (the SMTP server has accepted the connection and says nothing). A new notifier takes the
// rows over once their lease runs out: every recipient gets the down email and the recovery
// email exactly once.
func TestFaultSMTPDownAndNotifierKilled(t *testing.T) {
	t.Parallel()
	fp := newFaultPlatform(t)
	r := fp.startAll(map[string]string{"europe-1": "europe", "asia-1": "asia"})
	require.NoError(t, r.Notifier.Stop(15*time.Second))
	smtp := startTCPProxy(t, fp.Sink.Addr())
	_, smtpPort, _ := strings.Cut(smtp.Addr, ":")
	notifierEnv := []string{"SMTP_PORT=" + smtpPort, "VIGIL_NOTIFY_SEND_TIMEOUT=3s"}
	n := fp.StartNotifier("notifier-2", notifierEnv...)

	target := newSwitchTarget(t)
	recipients := []string{"alice@example.com", "bob@example.com"}
	site := fp.CreateWebsite(map[string]any{"name": "watched", "url": target.URL, "timeout_ms": 3000,
		"confirmations_down": 1, "confirmations_up": 1, "alert_emails": recipients})
	fp.everyPairHasPoints(40*time.Second, []string{site}, 1, "europe", "asia")

	smtp.Down()
	target.SetDown(true)
	waitFor(t, 60*time.Second, "the incident opened and its emails failed", func() bool {
		opened, _ := fp.Metric(n, "vigil_incidents_opened_total")
		failed, _ := fp.Metric(n, "vigil_notifications_total", `result="failed"`)
		return opened == 1 && failed >= 1
	})
	// SMTP comes back, but hangs: the next send is in the middle of its conversation when the
	// notifier dies.
	smtp.Stall(true)
	smtp.Up()
	waitFor(t, 60*time.Second, "a send in progress", func() bool { return smtp.Held() >= 1 })
	n.Kill()
	smtp.Down()
	smtp.Stall(false)
	smtp.Up()
	n = fp.StartNotifier("notifier-3", notifierEnv...)
	took := waitFor(t, 90*time.Second, "the down email to every recipient", func() bool {
		got := mailSubjects(t, fp.Sink.Messages())
		for _, rc := range recipients {
			if countPrefix(got[rc], "[DOWN]") == 0 {
				return false
			}
		}
		return true
	})
	logMeasure(t, "new notifier to every down email delivered", took.Round(100*time.Millisecond))

	target.SetDown(false)
	waitFor(t, 60*time.Second, "the recovery email to every recipient", func() bool {
		got := mailSubjects(t, fp.Sink.Messages())
		for _, rc := range recipients {
			if countPrefix(got[rc], "[RECOVERED]") == 0 {
				return false
			}
		}
		return true
	})
	fp.outboxEmpty(n)
	require.NoError(t, n.Stop(15*time.Second))
	got := mailSubjects(t, fp.Sink.Messages())
	for _, rc := range recipients {
		require.Equal(t, 1, countPrefix(got[rc], "[DOWN]"), "%s: %q", rc, got[rc])
		require.Equal(t, 1, countPrefix(got[rc], "[RECOVERED]"), "%s: %q", rc, got[rc])
		require.Len(t, got[rc], 2, "%s: %q", rc, got[rc])
	}
	logMeasure(t, "emails per recipient", "1 down + 1 recovered")
}

// floodSettings are the flood's interval and how long the workers stay away. The short version
// keeps the suite within CI's budget; VIGIL_FAULTS_FULL=1 runs the 2 minutes.
func floodSettings() (interval, away time.Duration) {
	if faultsFull() {
		return 60 * time.Second, 2 * time.Minute
	}
	return 30 * time.Second, 40 * time.Second
}

// floodSites is how many websites the flood enables at once.
const floodSites = 50_000

// TestFaultFlood: 50,000 websites are enabled at once (COPY and one NOTIFY '*') while the
// region's workers are away. The scheduler queues each pair once and coalesces the due times
// that follow; when the workers return, the backlog drains with no pair checked twice for one
// due time, one point per job, and the scheduler's and workers' memory stays bounded.
func TestFaultFlood(t *testing.T) {
	// Not parallel: it saturates the machine for a while, so it runs alone.
	interval, away := floodSettings()
	fp := newFaultPlatform(t)
	// Coalescing holds while a pair's pending marker lives: its timeout plus this grace.
	fp.SetEnv("VIGIL_PENDING_GRACE", "10m")
	r := fp.startAll(map[string]string{"europe-1": "europe", "europe-2": "europe", "asia-1": "asia"})
	for _, name := range []string{"europe-1", "europe-2"} {
		require.NoError(t, r.Workers[name].Stop(15*time.Second))
	}
	target := slowTarget(t, 0)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fp.env("DATABASE_URL"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var europe string
	require.NoError(t, conn.QueryRow(ctx, `SELECT id FROM regions WHERE name = 'europe'`).Scan(&europe))
	ids := make([]string, floodSites)
	websites := make([][]any, floodSites)
	regions := make([][]any, floodSites)
	for i := range ids {
		ids[i] = uuid.NewString()
		websites[i] = []any{ids[i], fmt.Sprintf("flood-%d", i), target, int(interval / time.Second), 3000, false}
		regions[i] = []any{ids[i], europe}
	}
	insertStart := time.Now()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"websites"},
		[]string{"id", "name", "url", "interval_seconds", "timeout_ms", "all_regions"}, pgx.CopyFromRows(websites))
	require.NoError(t, err)
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"website_regions"}, []string{"website_id", "region_id"}, pgx.CopyFromRows(regions))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT pg_notify('vigil_monitors', '*')`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	logMeasure(t, "COPY of the websites", time.Since(insertStart).Round(10*time.Millisecond))

	var peak = map[string]int64{}
	sample := func() {
		for _, pr := range []*Proc{r.Scheds[0], r.Scheds[1], r.Workers["europe-1"], r.Workers["europe-2"]} {
			if pr.Alive() {
				peak[pr.Name] = max(peak[pr.Name], rssBytes(t, pr))
			}
		}
	}
	leader := fp.Leader(r.Scheds...)
	require.NotNil(t, leader)
	waitFor(t, away+30*time.Second, "the workers' absence", func() bool {
		sample()
		return time.Since(insertStart) >= away
	})
	// Every pair is queued once, whatever the number of due times that passed.
	backlog := fp.StreamJobs("europe")
	perPair := map[string]int{}
	for _, j := range backlog {
		perPair[j.Job.WebsiteID]++
	}
	most := 0
	for _, n := range perPair {
		most = max(most, n)
	}
	coalesced, _ := fp.Metric(leader, "vigil_scheduler_coalesced_total", `region="europe"`)
	logMeasure(t, "backlog when the workers return (jobs, pairs)", fmt.Sprintf("%d jobs for %d pairs", len(backlog), len(perPair)))
	logMeasure(t, "due times coalesced while the workers were away", coalesced)
	require.Equal(t, 1, most, "a pair queued twice while its check was pending")
	if away > interval {
		require.Positive(t, coalesced)
	}

	r.Workers["europe-1"] = fp.StartWorker("europe-1b", "europe")
	r.Workers["europe-2"] = fp.StartWorker("europe-2b", "europe")
	// The backlog drains: every entry queued before the workers returned is acknowledged.
	last := backlog[len(backlog)-1].ID
	drained := waitFor(t, 5*time.Minute, "the backlog drained", func() bool {
		sample()
		gs, err := fp.Redis().XInfoGroups(ctx, fp.Prefix+":checks:europe").Result()
		if err != nil || len(gs) == 0 || !streamIDAfter(gs[0].LastDeliveredID, last) {
			return false
		}
		p, err := fp.Redis().XPendingExt(ctx, &redis.XPendingExtArgs{Stream: fp.Prefix + ":checks:europe",
			Group: "vigil", Start: "-", End: last, Count: 1}).Result()
		return err == nil && len(p) == 0
	})
	logMeasure(t, "workers back to the backlog drained", drained.Round(100*time.Millisecond))
	logMeasure(t, "drain rate (checks/s)", int(float64(len(backlog))/drained.Seconds()))
	jobs := fp.drainAndCompare(r, 0, "europe")
	logMeasure(t, "jobs checked, one point each", jobs)
	require.Empty(t, duplicateDues(fp.StreamJobs("europe")), "a due time dispatched twice")
	for name, b := range peak {
		logMeasure(t, "peak RSS of "+name, fmt.Sprintf("%d MiB", b>>20))
		require.Less(t, b, int64(512<<20), "%s's memory", name)
	}
}

// streamIDAfter reports whether stream id a is at or after b ("ms-seq").
func streamIDAfter(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ami, _ := strconv.ParseInt(am, 10, 64)
	bmi, _ := strconv.ParseInt(bm, 10, 64)
	if ami != bmi {
		return ami > bmi
	}
	asi, _ := strconv.ParseInt(as, 10, 64)
	bsi, _ := strconv.ParseInt(bs, 10, 64)
	return asi >= bsi
}
