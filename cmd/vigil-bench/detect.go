package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Detection settings: short, so that 20 trials finish in under a minute.
const (
	detectIntervalS = 10
	detectRetryS    = 2
	detectConfirm   = 2
	// detectSlack is what the bound allows beyond the schedule: a dispatch tick (25 ms), the
	// retry poll (100 ms), two probes, two completions, the notifier's read, transaction and
	// SMTP delivery.
	detectSlack = 2 * time.Second
)

// trial is one outage and the DOWN email it led to.
type trial struct {
	outage    time.Time
	phaseWait time.Duration // from the outage to the pair's next scheduled check
	email     time.Time     // zero until it arrives
}

// detectionSection is issue 8's third measurement: targets go down, and the harness times the
// DOWN email through the real scheduler, worker and notifier binaries into an SMTP sink.
func (b *bench) detectionSection(ctx context.Context, s *section) error {
	n := b.sz.trials
	st, err := b.openStores(ctx, "detection", "detect", need{postgres: true, redis: true, influx: true})
	if err != nil {
		return err
	}
	defer b.closeStores(st)
	sink, err := smtpsink.Start("127.0.0.1:0", "")
	if err != nil {
		return err
	}
	st.closeWith(sink.Close)
	target, targetAddr, err := b.serveFlipTarget(st, n)
	if err != nil {
		return err
	}
	ids, err := insertDetectWebsites(ctx, st, targetAddr, n)
	if err != nil {
		return err
	}
	b.describeDetection(s)
	if err := b.startDetectionRoles(ctx, st, sink); err != nil {
		return err
	}
	if err := waitFirstChecks(ctx, target); err != nil {
		return err
	}
	trials := b.startOutages(target, ids)
	if err := waitDownEmails(ctx, sink, trials); err != nil {
		return err
	}
	reportDetection(s, trials)
	return nil
}

// detectPeriod is the detection websites' interval in milliseconds.
const detectPeriod = int64(detectIntervalS * 1000)

// insertDetectWebsites inserts n websites on the target, website i at /d/i, with ids whose
// first check falls 3 to 4 s from now: the scheduler has started by then, and no trial waits
// most of an interval for its website's first check.
func insertDetectWebsites(ctx context.Context, st *sectionStores, target net.Addr, n int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, n)
	firstAt := time.Now().Add(3 * time.Second).UnixMilli()
	for i := range ids {
		for {
			ids[i] = uuid.New()
			if monitor.NextDue(firstAt, monitor.Phase(ids[i], benchRegion, detectPeriod), detectPeriod)-firstAt < 1000 {
				break
			}
		}
		_, err := st.conn.Exec(ctx, `INSERT INTO websites (id, name, url, interval_seconds, retry_interval_seconds,
			confirmations_down, confirmations_up, timeout_ms, alert_emails)
			VALUES ($1, $2, $3, $4, $5, $6, 1, 2000, $7)`,
			ids[i], fmt.Sprintf("detect-%d", i), fmt.Sprintf("http://%s/d/%d", target, i),
			detectIntervalS, detectRetryS, detectConfirm, []string{alertAddr(i)})
		if err != nil {
			return nil, fmt.Errorf("insert website: %w", err)
		}
	}
	return ids, nil
}

// alertAddr is where website i's alerts go.
func alertAddr(i int) string { return fmt.Sprintf("site-%d@bench.example", i) }

// describeDetection says how the section was run.
func (b *bench) describeDetection(s *section) {
	s.setupf("%d websites on a local target (`/d/N` answers 200 until N's outage, then 503), interval %d s, `retry_interval_seconds` %d, `confirmations_down` %d, one region, an alert address each", b.sz.trials, detectIntervalS, detectRetryS, detectConfirm)
	s.setupf("the real `bin/scheduler`, `bin/worker --region %s` and `bin/notifier` (`VIGIL_SMTP_TLS=none`) with production defaults, a database, Redis prefix and InfluxDB database of their own; emails go to an in-process SMTP sink (internal/smtpsink), timed when it accepts the DATA", benchRegion)
	if b.o.smoke {
		s.setupf("smoke mode: each outage starts 300 ms before its website's next check, so the run takes seconds")
	} else {
		s.setupf("once every target has answered its first check, the outages start, spread evenly over one interval so the trials see every phase; each trial's latency runs from its outage to its DOWN email")
	}
	s.setupf("the bound each trial is promised: phase (from the outage to the pair's next scheduled check, computed with `monitor.Phase`) + (N−1) × retry + %s of slack (dispatch tick, retry poll, probes, completions, the notifier's transaction and SMTP)", detectSlack)
}

// startDetectionRoles starts the notifier, the worker and the scheduler, which stop in the
// reverse order when the section's stores close: the worker and the scheduler before the notifier.
func (b *bench) startDetectionRoles(ctx context.Context, st *sectionStores, sink *smtpsink.Sink) error {
	roles := []role{
		{name: "detect-notifier", bin: b.bins.notifier, env: []string{"SMTP_HOST=127.0.0.1", "SMTP_PORT=" + strconv.Itoa(sink.Port()),
			"VIGIL_SMTP_TLS=none", "SMTP_FROM=vigil@bench.example"}},
		{name: "detect-worker", bin: b.bins.worker, env: []string{"VIGIL_REGION=" + benchRegion, "VIGIL_ALLOW_TARGETS=127.0.0.0/8"}},
		{name: "detect-scheduler", bin: b.bins.scheduler},
	}
	for _, r := range roles {
		r.stores, r.env = st, append([]string{"VIGIL_LOG_LEVEL=info"}, r.env...)
		r.addrVar, r.ready, r.within = "VIGIL_METRICS_ADDR", "/readyz", time.Minute
		p, _, err := b.startRole(ctx, r)
		if err != nil {
			return err
		}
		st.closeWith(func() error { return p.stop(20 * time.Second) })
	}
	return nil
}

// waitFirstChecks returns once every website is up: each target answered once, and its result
// had time to land.
func waitFirstChecks(ctx context.Context, target *flipTarget) error {
	n := len(target.hits)
	up := 0
	checked := wait{every: 50 * time.Millisecond, until: time.Now().Add(3 * detectIntervalS * time.Second), late: func() error {
		return fmt.Errorf("detection: only %d of %d targets checked after %d s", up, n, 3*detectIntervalS)
	}}
	err := checked.poll(ctx, func() (bool, error) {
		up = 0
		for i := range target.hits {
			if target.hits[i].Load() > 0 {
				up++
			}
		}
		return up == n, nil
	})
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // the last first check's completion confirms its pair up
	return nil
}

// startOutages sets each target's outage: spread evenly over one interval from half a second
// on, or in smoke mode just before its website's next check.
func (b *bench) startOutages(target *flipTarget, ids []uuid.UUID) []trial {
	n := len(ids)
	base := time.Now().Add(500 * time.Millisecond)
	trials := make([]trial, n)
	for i := range n {
		t := &trials[i]
		phase := monitor.Phase(ids[i], benchRegion, detectPeriod)
		t.outage = base.Add(time.Duration(i) * time.Duration(detectPeriod) * time.Millisecond / time.Duration(n))
		if b.o.smoke {
			// A smoke run only proves the path: each outage starts just before a check is due.
			t.outage = time.UnixMilli(monitor.NextDue(base.UnixMilli(), phase, detectPeriod) - 300)
		}
		target.downAt[i].Store(t.outage.UnixNano())
		ms := t.outage.UnixMilli()
		t.phaseWait = time.Duration(monitor.NextDue(ms, phase, detectPeriod)-ms) * time.Millisecond
	}
	b.logf("detection: %d outages over the next %d s", n, detectIntervalS)
	return trials
}

// waitDownEmails times each trial's DOWN email as the sink accepted it.
func waitDownEmails(ctx context.Context, sink *smtpsink.Sink, trials []trial) error {
	n := len(trials)
	last := slices.MaxFunc(trials, func(a, b trial) int { return a.outage.Compare(b.outage) }).outage.
		Add(time.Duration(detectIntervalS+detectRetryS*detectConfirm)*time.Second + 30*time.Second)
	got := 0
	emailed := wait{every: 100 * time.Millisecond, until: last, wake: sink.Received(), late: func() error {
		return fmt.Errorf("detection: %d of %d DOWN emails arrived", got, n)
	}}
	return emailed.poll(ctx, func() (bool, error) {
		got = 0
		for _, m := range sink.Messages() {
			for i := range trials {
				if trials[i].email.IsZero() && slices.Contains(m.To, alertAddr(i)) && strings.Contains(string(m.Data), "DOWN") {
					trials[i].email = m.At
				}
			}
		}
		for _, t := range trials {
			if !t.email.IsZero() {
				got++
			}
		}
		return got == n, nil
	})
}

// reportDetection writes each trial against its bound, and the verdicts.
func reportDetection(s *section, trials []trial) {
	n := len(trials)
	retries := time.Duration(detectConfirm-1) * detectRetryS * time.Second
	var lat, over []time.Duration
	within := 0
	s.table("trial", "phase (outage to next check)", "bound", "outage to DOWN email", "beyond phase + retries")
	for i, t := range trials {
		l := t.email.Sub(t.outage)
		bound := t.phaseWait + retries + detectSlack
		o := l - t.phaseWait - retries
		lat, over = append(lat, l), append(over, o)
		mark := "✅"
		if l <= bound {
			within++
		} else {
			mark = "❌"
		}
		s.row(strconv.Itoa(i+1), fmt.Sprintf("%.2f s", t.phaseWait.Seconds()), fmt.Sprintf("%.2f s", bound.Seconds()),
			fmt.Sprintf("%.2f s %s", l.Seconds(), mark), fmtMS(o))
	}
	slices.Sort(lat)
	slices.Sort(over)
	worstBound := time.Duration(detectPeriod)*time.Millisecond + retries + detectSlack
	s.add("", fmt.Sprintf("Outage to DOWN email over %d trials: median **%.2f s**, max **%.2f s**; the configuration promises at most interval + (N−1) × retry + slack = %s in the worst phase. Beyond the phase and the retries, the pipeline (dispatch, probes, completion, notifier, SMTP) added a median %s and at most %s.",
		n, percentile(lat, 0.5).Seconds(), lat[n-1].Seconds(), worstBound, fmtMS(percentile(over, 0.5)), fmtMS(over[n-1])))
	s.info("outage to DOWN email", fmt.Sprintf("median %.2f s, max %.2f s over %d trials", percentile(lat, 0.5).Seconds(), lat[n-1].Seconds(), n))
	s.check("trials within phase + (N−1)×retry + slack", fmt.Sprintf("all %d (slack %s)", n, detectSlack), fmt.Sprintf("%d of %d", within, n), within == n)
	if within < n {
		s.note(fmt.Sprintf("**Why some trials were late:** the pipeline beyond the schedule took up to %s against %s of slack; on this shared machine (load %s) each of the steps waits for a CPU.", fmtMS(over[n-1]), detectSlack, loadAvg()))
	}
}
