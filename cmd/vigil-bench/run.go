package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// sizes are how much work each section does: the sizes, or tiny ones in smoke mode.
type sizes struct {
	// worker
	checks, concurrency        int
	latencyChecks, latencyConc int
	latencyDelay               time.Duration
	// scheduler
	pairs       int
	growth      []int
	intervalS   int // 1M pairs / 50 s = 20,000 due checks/s
	burstWait   time.Duration
	steadyFor   time.Duration
	changeTries int
	// detection
	trials int
	// api
	websites      int
	seriesDays    int
	apiClients    int
	apiPerRoute   time.Duration
	apiSerialRuns int
}

func sizesFor(smoke bool) sizes {
	if smoke {
		return sizes{
			checks: 400, concurrency: 32,
			latencyChecks: 400, latencyConc: 100, latencyDelay: 100 * time.Millisecond,
			pairs: 2000, growth: []int{500, 2000}, intervalS: 10, burstWait: time.Second,
			steadyFor: 2 * time.Second, changeTries: 2,
			trials:   2,
			websites: 200, seriesDays: 1, apiClients: 4, apiPerRoute: 300 * time.Millisecond, apiSerialRuns: 3,
		}
	}
	return sizes{
		checks: 60_000, concurrency: 256,
		latencyChecks: 60_000, latencyConc: 5000, latencyDelay: 500 * time.Millisecond,
		pairs: 1_000_000, growth: []int{10_000, 100_000, 1_000_000}, intervalS: 50, burstWait: 5 * time.Second,
		steadyFor: 20 * time.Second, changeTries: 10,
		trials:   20,
		websites: 10_000, seriesDays: 30, apiClients: 32, apiPerRoute: 8 * time.Second, apiSerialRuns: 20,
	}
}

// bench is what every section works with.
type bench struct {
	o      options
	sz     sizes
	st     *stack
	bins   bins
	exe    string // this binary, for the helper processes
	logDir string
	// log takes the progress lines; like any log it has nowhere to report its own failed
	// writes, and it keeps lines from the sections' goroutines whole.
	log *log.Logger
}

func (b *bench) logf(f string, a ...any) {
	b.log.Printf("vigil-bench: "+f, a...)
}

// cleanup runs drop, the removal of a section's database, key prefix or bucket, or the close
// of its connections and servers, for a defer: a failure is logged, since the figures are
// already taken and the run goes on.
func (b *bench) cleanup(section string, drop func() error) {
	if err := drop(); err != nil {
		b.logf("%s: cleanup: %v", section, err)
	}
}

// stop is cleanup for a helper process: it stops p within timeout.
func (b *bench) stop(section string, p *proc, timeout time.Duration) {
	b.cleanup(section, func() error { return p.stop(timeout) })
}

// closeConn is a PostgreSQL connection's Close for cleanup.
func closeConn(conn *pgx.Conn) func() error {
	return func() error { return conn.Close(context.Background()) }
}

// run runs the sections and writes the report, also when a section failed (the report says
// which and why); it returns the sections' errors.
func run(ctx context.Context, o options, stderr io.Writer) error {
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	st, err := newStack(ctx, o)
	if err != nil {
		return err
	}
	progress := log.New(stderr, "", log.Ltime)
	defer func() {
		if err := st.close(); err != nil {
			progress.Printf("vigil-bench: cleanup: %v", err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logDir := o.logDir
	if logDir == "" {
		logDir = filepath.Join(o.root, ".stack", "bench", st.runID)
	}
	b := &bench{o: o, sz: sizesFor(o.smoke), st: st, exe: exe, log: progress, logDir: logDir}
	if err := os.MkdirAll(b.logDir, 0o755); err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "vigil-bench-bin-")
	if err != nil {
		return err
	}
	defer b.cleanup("run", func() error { return os.RemoveAll(binDir) })
	r := &report{started: time.Now(), loadBefore: loadAvg(), smoke: o.smoke, command: o.command, fileLimit: limit}
	r.machine = machineInfo()
	r.versions = b.versions(ctx)
	b.logf("run %s, logs in %s", st.runID, b.logDir)
	b.logf("building the binaries")
	b.bins, err = buildBinaries(ctx, o, binDir)
	if err != nil {
		return err
	}

	sections := map[string]struct {
		title string
		fn    func(context.Context, *section) error
	}{
		"worker":    {"1. Worker throughput", b.workerSection},
		"scheduler": {"2 and 5. Scheduler at scale, and growth", b.schedulerSection},
		"detection": {"3. Detection latency", b.detectionSection},
		"api":       {"4. API under load", b.apiSection},
	}
	var errs []error
	for _, name := range o.sections {
		def := sections[name]
		s := &section{key: name, title: def.title, loadBefore: loadAvg()}
		b.logf("section %s: start (load %s)", name, s.loadBefore)
		start := time.Now()
		s.err = def.fn(ctx, s)
		s.took = time.Since(start)
		s.loadAfter = loadAvg()
		b.logf("section %s: done in %s (err: %v)", name, s.took.Round(time.Second), s.err)
		if s.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, s.err))
		}
		r.sections = append(r.sections, s)
		if ctx.Err() != nil {
			break
		}
	}
	r.ended, r.loadAfter = time.Now(), loadAvg()
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(o.root, out)
	}
	if err := os.WriteFile(out, []byte(r.markdown()), 0o644); err != nil {
		return errors.Join(append(errs, err)...)
	}
	b.logf("report written to %s", out)
	return errors.Join(errs...)
}

// helper starts one of this binary's helper processes.
func (b *bench) helper(name string, args ...string) (*proc, error) {
	return startProc(name, b.exe, args, nil, b.logDir, nil)
}

// startTarget starts a target process answering after delay and returns it with its URL.
func (b *bench) startTarget(ctx context.Context, name string, delay time.Duration) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	p, err := b.helper(name, "target", "-addr", addr, "-delay", delay.String())
	if err != nil {
		return nil, "", err
	}
	url := "http://" + addr + "/"
	if err := waitHTTP(ctx, p, url, 10*time.Second); err != nil {
		return nil, "", errors.Join(err, p.stop(time.Second))
	}
	return p, url, nil
}

// Formatting helpers for the report.

func fmtInt(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtMB(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

func fmtMS(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// medianOf is the median of durations in any order.
func medianOf(ds []time.Duration) time.Duration {
	c := slices.Clone(ds)
	slices.Sort(c)
	return percentile(c, 0.5)
}
