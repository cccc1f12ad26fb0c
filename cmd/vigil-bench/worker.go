package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

const benchRegion = "bench"

// workerSection is issue 8's first measurement: one worker process against the bare loop, CPU-
// bound (a target that answers at once) and latency-bound (5,000 checks at once against a
// target that answers after 500 ms).
func (b *bench) workerSection(ctx context.Context, s *section) error {
	sz := b.sz
	fast, fastURL, err := b.startTarget(ctx, "target-fast", 0)
	if err != nil {
		return err
	}
	defer b.stop("worker", fast, 5*time.Second)
	b.describeWorker(s)

	b.logf("worker: bare loop (before)")
	bare1, err := b.bareLoop(ctx, "bareloop-fast-1", fastURL, sz.checks, sz.concurrency)
	if err != nil {
		return err
	}
	b.logf("worker: worker, %d checks", sz.checks)
	w, err := b.workerRun(ctx, "fast", fastURL, sz.checks, sz.concurrency)
	if err != nil {
		return err
	}
	b.logf("worker: bare loop (after)")
	bare2, err := b.bareLoop(ctx, "bareloop-fast-2", fastURL, sz.checks, sz.concurrency)
	if err != nil {
		return err
	}
	b.reportCPUBound(s, bare1, w, bare2)

	// The latency-bound run.
	slow, slowURL, err := b.startTarget(ctx, "target-slow", sz.latencyDelay)
	if err != nil {
		return err
	}
	defer b.stop("worker", slow, 5*time.Second)
	b.logf("worker: latency-bound bare loop")
	bareL, err := b.bareLoop(ctx, "bareloop-slow", slowURL, sz.latencyChecks, sz.latencyConc)
	if err != nil {
		return err
	}
	b.logf("worker: latency-bound worker, %d checks at %d at once", sz.latencyChecks, sz.latencyConc)
	wl, err := b.workerRun(ctx, "slow", slowURL, sz.latencyChecks, sz.latencyConc)
	if err != nil {
		return err
	}
	b.reportLatencyBound(s, bareL, wl)
	return nil
}

// describeWorker says how the section was run.
func (b *bench) describeWorker(s *section) {
	sz := b.sz
	s.setupf("target: `vigil-bench target` (a process of its own, Go net/http on 127.0.0.1, a %d-byte page, backlog = somaxconn)", len(targetBody))
	s.setupf("bare loop: `vigil-bench bareloop -url URL -n %d -c %d` — Go's http.Client, `DisableKeepAlives` (a new connection per request, as every check makes), %d goroutines; run before and after the worker, the baseline is their mean",
		sz.checks, sz.concurrency, sz.concurrency)
	s.setupf("worker: `bin/worker --region %s` with `VIGIL_WORKER_CONCURRENCY=%d`, `VIGIL_ALLOW_TARGETS=127.0.0.1/32`, its own `VIGIL_REDIS_PREFIX` and `INFLUXDB_BUCKET`; its stream pre-filled with %s jobs (as the scheduler writes them, with their pending markers) over %s websites; every result goes to InfluxDB and every job is completed (state script, ACK) before it counts",
		benchRegion, sz.concurrency, fmtInt(float64(sz.checks)), fmtInt(float64(min(sz.checks, 10_000))))
	s.setupf("rates are taken between 5%% and 95%% of the work done (start-up and tail excluded); CPU per check is the process's utime+stime (/proc/PID/stat, or getrusage for the bare loop) over the same window; the run ends when every check is counted, every point handed to InfluxDB and no job is left pending")
}

// reportCPUBound writes the CPU-bound run, the worker between two bare loops, and its verdicts.
func (b *bench) reportCPUBound(s *section, bare1 loopResult, w workerResult, bare2 loopResult) {
	sz := b.sz
	bareRate := (bare1.Rate + bare2.Rate) / 2
	bareCPU := (bare1.CPUPerReq + bare2.CPUPerReq) / 2
	ratio := w.rate / bareRate

	s.add("### CPU-bound: a target that answers at once", "")
	s.table("run", "checks/s (steady)", "checks/s (whole run)", "CPU µs/check", "peak RSS", "errors")
	bareRow := func(label string, r loopResult) {
		s.row(label, fmtInt(r.Rate), fmtInt(r.TotalRate), fmt.Sprintf("%.0f", r.CPUPerReq), fmtMB(r.HWMKB), strconv.Itoa(r.Errors))
	}
	bareRow("bare loop, before", bare1)
	s.row("**worker**", "**"+fmtInt(w.rate)+"**", fmtInt(w.totalRate), fmt.Sprintf("**%.0f**", w.cpuUS),
		fmtMB(w.hwmKB)+" (RSS at the end "+fmtMB(w.rssKB)+")", w.problems())
	bareRow("bare loop, after", bare2)
	s.add("",
		fmt.Sprintf("Worker / bare loop: **%.2f×** the rate, %.2f× the CPU per check (%.0f µs against %.0f µs). Around the worker's steady window the stores it writes to used, per check: Redis %.0f µs, InfluxDB %.0f µs of CPU — work the bare loop does not do, on the same 2 cores.",
			ratio, w.cpuUS/bareCPU, w.cpuUS, bareCPU, w.redisUS, w.influxUS),
		fmt.Sprintf("Every result reached InfluxDB: %s points counted in the run's database for %s checks.", fmtInt(float64(w.points)), fmtInt(float64(sz.checks))),
	)
	scaled := 12_000.0 / 18_000.0 * bareRate
	s.check("worker / bare loop (CPU-bound)", "≥ 0.6×", fmt.Sprintf("%.2f× (%s against %s checks/s)", ratio, fmtInt(w.rate), fmtInt(bareRate)), ratio >= 0.6)
	s.check("worker checks/s", "≥ 12k where the bare loop does 18k (≥ 0.667×: "+fmtInt(scaled)+" here)",
		fmtInt(w.rate), w.rate >= scaled)
	s.info("worker CPU per check", fmt.Sprintf("%.0f µs (bare loop %.0f µs)", w.cpuUS, bareCPU))
	s.info("worker peak RSS (CPU-bound)", fmtMB(w.hwmKB))
	if ratio < 0.6 || w.rate < scaled {
		s.note(fmt.Sprintf("**Why the CPU-bound run missed:** on 2 cores the check rate is bounded by the CPU per check of everything on the machine. The worker spent %.0f µs per check against the bare loop's %.0f µs, and Redis (%.0f µs) and InfluxDB (%.0f µs) spent more on the same cores, while the bare loop writes nowhere. What would close the gap: less CPU per check in the worker (profile `bin/worker` under this run: the probe's httptrace and guard, JSON decoding of jobs, the completion script round trips) and InfluxDB on other cores, as in production.",
			w.cpuUS, bareCPU, w.redisUS, w.influxUS))
	}
}

// reportLatencyBound writes the latency-bound run against the ideal the concurrency and the
// target's delay allow, and its verdict.
func (b *bench) reportLatencyBound(s *section, bareL loopResult, wl workerResult) {
	sz := b.sz
	ideal := float64(sz.latencyConc) / sz.latencyDelay.Seconds()
	s.add("",
		fmt.Sprintf("### Latency-bound: %s checks at once, a target that answers after %s", fmtInt(float64(sz.latencyConc)), sz.latencyDelay),
		"",
		fmt.Sprintf("Concurrency / latency allows at most %s checks/s. Same harness, `VIGIL_WORKER_CONCURRENCY=%d`, `-c %d` for the bare loop, %s checks each.", fmtInt(ideal), sz.latencyConc, sz.latencyConc, fmtInt(float64(sz.latencyChecks))),
		"",
	)
	s.table("run", "checks/s (steady)", "of the ideal", "CPU µs/check", "peak RSS", "errors")
	s.row("bare loop", fmtInt(bareL.Rate), fmt.Sprintf("%.0f%%", 100*bareL.Rate/ideal), fmt.Sprintf("%.0f", bareL.CPUPerReq), fmtMB(bareL.HWMKB), strconv.Itoa(bareL.Errors))
	s.row("**worker**", "**"+fmtInt(wl.rate)+"**", fmt.Sprintf("%.0f%%", 100*wl.rate/ideal), fmt.Sprintf("%.0f", wl.cpuUS), fmtMB(wl.hwmKB), wl.problems())
	s.add("", fmt.Sprintf("In the worker's steady window %s checks were in flight on average (of %d allowed), and a check took %s on average (the target answers after %s): by Little's law %s checks/s.",
		fmtInt(wl.inFlight), sz.latencyConc, fmtMS(wl.meanCheck), sz.latencyDelay, fmtInt(wl.inFlight/wl.meanCheck.Seconds())))
	s.check(fmt.Sprintf("worker checks/s, %d at once against %s", sz.latencyConc, sz.latencyDelay), "≈ "+fmtInt(ideal)+" (≥ 90%)",
		fmt.Sprintf("%s (%.0f%%; bare loop %s)", fmtInt(wl.rate), 100*wl.rate/ideal, fmtInt(bareL.Rate)), wl.rate >= 0.9*ideal)
	if wl.rate < 0.9*ideal {
		why := fmt.Sprintf("**Why the latency-bound run missed:** at %s checks/s the worker needed %.0f µs of CPU per check, i.e. %.2f cores, and the target, Redis and InfluxDB more, on 2 cores shared with other work (load %s); the bare loop, with nothing to write, reached %s (%.0f%% of the ideal) under the same conditions.",
			fmtInt(wl.rate), wl.cpuUS, wl.rate*wl.cpuUS/1e6, loadAvg(), fmtInt(bareL.Rate), 100*bareL.Rate/ideal)
		if wl.inFlight < 0.9*float64(sz.latencyConc) {
			why += fmt.Sprintf(" The worker had %s of its %d slots probing on average. Its readers ask Redis for as many jobs as there are free slots (up to 1,000 a read, two reads in flight), which keeps 99%% of the slots probing when a check costs no CPU (`go test ./pkg/worker -bench WorkerLatencyBound`); here the rest of a slot's time is a goroutine waiting for a CPU between the steps around the probe (decoding the job, handing the result to the writer, queueing the completion).",
				fmtInt(wl.inFlight), sz.latencyConc)
		}
		if wl.meanCheck > sz.latencyDelay+sz.latencyDelay/10 {
			why += fmt.Sprintf(" A check took %s on average against the target's %s: the rest is waiting for a CPU.", fmtMS(wl.meanCheck), sz.latencyDelay)
		}
		s.note(why)
	}
}

// bareLoop runs the baseline in its own process and returns what it measured.
func (b *bench) bareLoop(ctx context.Context, name, url string, n, c int) (r loopResult, err error) {
	cmd := exec.CommandContext(ctx, b.exe, "bareloop", "-url", url, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c))
	lf, err := os.Create(filepath.Join(b.logDir, name+".log"))
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, lf.Close()) }()
	cmd.Stderr = lf
	out, err := cmd.Output()
	if err != nil {
		return r, fmt.Errorf("%s: %w (log %s)", name, err, lf.Name())
	}
	if _, err := lf.Write(out); err != nil {
		return r, err
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("%s: %w: %s", name, err, out)
	}
	if r.Rate == 0 {
		return r, fmt.Errorf("%s: no steady window: %s", name, out)
	}
	return r, nil
}

// workerResult is what one worker run measured.
type workerResult struct {
	rate, totalRate          float64
	cpuUS, redisUS, influxUS float64
	rssKB, hwmKB             int64
	points, pending          int64
	failed, writeErrors      float64
	meanCheck                time.Duration // mean check duration in the steady window
	inFlight                 float64       // mean checks in flight in the steady window
}

func (w workerResult) problems() string {
	var p []string
	if w.failed > 0 {
		p = append(p, fmtInt(w.failed)+" checks not up")
	}
	if w.writeErrors > 0 {
		p = append(p, fmtInt(w.writeErrors)+" InfluxDB write errors")
	}
	if w.pending > 0 {
		p = append(p, fmtInt(float64(w.pending))+" jobs left pending")
	}
	if len(p) == 0 {
		return "0"
	}
	return strings.Join(p, ", ")
}

// workerRun pre-fills a region's stream with n jobs against url, starts bin/worker on it and
// samples its metrics until every check is done, written and acknowledged.
func (b *bench) workerRun(ctx context.Context, label, url string, n, concurrency int) (workerResult, error) {
	var res workerResult
	stores, err := b.openStores(ctx, "worker", "worker_"+label, need{redis: true, influx: true})
	if err != nil {
		return res, err
	}
	defer b.closeStores(stores)
	keys := queue.Keys{Prefix: stores.prefix}
	if err := prefill(ctx, b.st.rdb, keys, url, n); err != nil {
		return res, err
	}

	redisPID, influxPID := b.storePIDs(ctx)
	// The worker is not waited for: its start-up is part of the run.
	p, metricsAddr, err := b.startRole(ctx, role{name: "worker-" + label, bin: b.bins.worker, stores: stores, env: []string{
		"VIGIL_REGION=" + benchRegion, "VIGIL_WORKER_CONCURRENCY=" + strconv.Itoa(concurrency),
		"VIGIL_ALLOW_TARGETS=127.0.0.1/32", "VIGIL_LOG_LEVEL=warn", "VIGIL_WORKER_CONSUMER=bench-" + label,
	}, addrVar: "VIGIL_METRICS_ADDR"})
	if err != nil {
		return res, err
	}
	defer b.stop("worker", p, 30*time.Second)
	metricsURL := "http://" + metricsAddr + "/metrics"
	samples, err := b.sampleWorker(ctx, p, metricsURL, keys, n, [2]int{redisPID, influxPID})
	if err != nil {
		return res, err
	}
	elapsed := time.Since(p.started)
	res.rssKB, res.hwmKB = procMem(p.pid())
	if err := res.fromSamples(samples, n, elapsed); err != nil {
		return res, err
	}
	last := samples[len(samples)-1].metrics
	if m, err := scrape(ctx, metricsURL); err == nil {
		last = m
	}
	res.fromMetrics(last)
	if err := p.stop(30 * time.Second); err != nil {
		return res, err
	}
	pending, err := b.st.rdb.XPending(ctx, keys.Checks(benchRegion), queue.Group).Result()
	if err != nil {
		return res, fmt.Errorf("worker: xpending: %w", err)
	}
	res.pending = pending.Count
	res.points, err = b.st.influxCount(ctx, stores.influxDB(), "response_ms")
	if err != nil {
		return res, err
	}
	return res, nil
}

// sampleWorker samples the worker's metrics, its CPU and the stores' (storePIDs) every 25 ms
// until it has done, written and acknowledged n checks.
func (b *bench) sampleWorker(ctx context.Context, p *proc, metricsURL string, keys queue.Keys, n int, storePIDs [2]int) ([]sample, error) {
	var last map[string]float64
	read := func() (float64, time.Duration) {
		m, err := scrape(ctx, metricsURL)
		if err != nil {
			return 0, procCPU(p.pid())
		}
		last = m
		return m["vigil_checks_total"], procCPU(p.pid())
	}
	var samples []sample
	var done float64
	finished := wait{every: 25 * time.Millisecond, until: p.started.Add(time.Duration(n/500+60) * time.Second), late: func() error {
		return fmt.Errorf("worker: %v of %d checks after %s (points %v): %s",
			done, n, time.Since(p.started).Round(time.Second), last["vigil_tsdb_points_written_total"], p.tail())
	}}
	err := finished.poll(ctx, func() (bool, error) {
		var cpu time.Duration
		done, cpu = read()
		samples = append(samples, sample{at: time.Now(), done: done, cpu: cpu, metrics: last,
			stores: [2]time.Duration{procCPU(storePIDs[0]), procCPU(storePIDs[1])}})
		if done >= float64(n) && last["vigil_tsdb_points_written_total"] >= float64(n) {
			pending, err := b.st.rdb.XPending(ctx, keys.Checks(benchRegion), queue.Group).Result()
			if err == nil && pending.Count == 0 {
				return true, nil
			}
		}
		if ok, perr := p.exited(); ok {
			return false, fmt.Errorf("worker exited early (%v): %s", perr, p.tail())
		}
		return false, nil
	})
	return samples, err
}

// fromSamples takes the rates, the CPU per check, the mean check and the checks in flight from
// the steady window of the samples of a run of n checks.
func (w *workerResult) fromSamples(samples []sample, n int, elapsed time.Duration) error {
	st := steady(samples, float64(n))
	if !st.ok {
		return errors.New("worker: no steady window in the samples (the run was too short to sample)")
	}
	items := st.to.done - st.from.done
	w.rate, w.cpuUS, w.totalRate = st.rate, st.cpuPerItemUS, float64(n)/elapsed.Seconds()
	w.redisUS = float64((st.to.stores[0] - st.from.stores[0]).Microseconds()) / items
	w.influxUS = float64((st.to.stores[1] - st.from.stores[1]).Microseconds()) / items
	if a, z := st.from.metrics, st.to.metrics; a != nil && z != nil {
		if c := z["vigil_check_duration_seconds_count"] - a["vigil_check_duration_seconds_count"]; c > 0 {
			w.meanCheck = time.Duration((z["vigil_check_duration_seconds_sum"] - a["vigil_check_duration_seconds_sum"]) / c * float64(time.Second))
		}
	}
	var inFlight, k float64
	for _, x := range samples {
		if !x.at.Before(st.from.at) && !x.at.After(st.to.at) && x.metrics != nil {
			inFlight += x.metrics["vigil_worker_checks_in_flight"]
			k++
		}
	}
	if k > 0 {
		w.inFlight = inFlight / k
	}
	return nil
}

// fromMetrics takes the write errors and the failed checks from the worker's last metrics.
func (w *workerResult) fromMetrics(last map[string]float64) {
	w.writeErrors = last["vigil_tsdb_write_errors_total"]
	// The target answers 200: any outcome but up or degraded means the machine was so busy
	// that checks timed out, or something broke.
	w.failed = last["vigil_checks_total"] - last[`vigil_checks_total{outcome="up",region="bench"}`] -
		last[`vigil_checks_total{outcome="degraded",region="bench"}`]
}

// prefill queues n jobs against url as the scheduler would: one stream entry per job with the
// pair's pending marker and last due time. Jobs go round a pool of up to 10,000 websites, each
// next round one interval later, like sites checked every minute.
func prefill(ctx context.Context, rdb *redis.Client, keys queue.Keys, url string, n int) error {
	w := min(n, 10_000)
	ids := make([]string, w)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	base := time.Now().Add(-time.Hour).UnixMilli()
	for start := 0; start < n; start += 1000 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(start+1000, n); i++ {
				j := monitor.Job{
					WebsiteID: ids[i%w], Region: benchRegion, URL: url, Method: "GET",
					TimeoutMS: 10_000, ExpectedStatus: "200-399", IntervalSeconds: 60,
					ConfirmationsDown: 2, ConfirmationsUp: 1, RetryIntervalSeconds: 20,
					DueAt: base + int64(i/w)*60_000,
				}
				raw, err := json.Marshal(j)
				if err != nil {
					return err
				}
				p.HSet(ctx, keys.Pending(benchRegion), j.WebsiteID, j.DueAt+70_000)
				p.HSet(ctx, keys.LastDue(benchRegion), j.WebsiteID, j.DueAt)
				p.XAdd(ctx, &redis.XAddArgs{Stream: keys.Checks(benchRegion), Values: map[string]any{queue.JobField: string(raw)}})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefill: %w", err)
		}
	}
	return nil
}

// storePIDs are the process ids of Redis (from INFO) and InfluxDB (scripts/stack's pid file),
// 0 when unknown, so that a run can say what the stores spent on it.
func (b *bench) storePIDs(ctx context.Context) (redisPID, influxPID int) {
	if info, err := b.st.rdb.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "process_id:"); ok {
				if pid, err := strconv.Atoi(v); err == nil {
					redisPID = pid
				}
			}
		}
	}
	if raw, err := os.ReadFile(filepath.Join(b.o.root, ".stack", "influxdb.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			influxPID = pid
		}
	}
	return redisPID, influxPID
}
