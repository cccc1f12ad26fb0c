package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// this runs on (reading sysconf would need cgo).
const clockTicks = 100

// selfCPU is the CPU this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU a process has used (utime + stime from /proc/<pid>/stat); 0 when it is gone.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis
	// start at field 3, so utime (14) and stime (15) are the 12th and 13th after it.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * time.Second / clockTicks
}

// procMem is a process's resident set and its peak (VmRSS and VmHWM) in kB; pid 0 is this one.
func procMem(pid int) (rssKB, hwmKB int64) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(raw)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rssKB = n
		case "VmHWM":
			hwmKB = n
		}
	}
	return rssKB, hwmKB
}

// sample is one observation of a running measurement: items done and CPU used so far.
type sample struct {
	at   time.Time
	done float64
	cpu  time.Duration
	// stores is the CPU the stores (Redis, InfluxDB) have used, when the run watches them.
	stores [2]time.Duration
	// metrics is the process's /metrics at that moment, when the run scrapes it.
	metrics map[string]float64
}

// sampler polls a progress function at a fixed period.
type sampler struct {
	read func() (float64, time.Duration)
}

func newSampler(read func() (float64, time.Duration)) *sampler { return &sampler{read: read} }

func (s *sampler) run(ctx context.Context, every time.Duration) []sample {
	var out []sample
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d, c := s.read()
		out = append(out, sample{at: time.Now(), done: d, cpu: c})
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// steadyRate is a run's rate and CPU per item between the samples where 5% and 95% of the work
// was done: the steady state, without the start-up (connecting, joining the group) and the
// tail (the last few slow requests) that would otherwise decide a short run's figure.
type steadyRate struct {
	rate         float64 // items/s
	cpuPerItemUS float64
	from, to     sample
	ok           bool
}

func steady(samples []sample, n float64) steadyRate {
	var a, b *sample
	for i := range samples {
		s := &samples[i]
		if a == nil && s.done >= 0.05*n {
			a = s
		}
		if s.done >= 0.95*n {
			b = s
			break
		}
	}
	if a == nil || b == nil || !b.at.After(a.at) || b.done <= a.done {
		return steadyRate{}
	}
	items := b.done - a.done
	return steadyRate{
		rate:         items / b.at.Sub(a.at).Seconds(),
		cpuPerItemUS: float64((b.cpu - a.cpu).Microseconds()) / items,
		from:         *a,
		to:           *b,
		ok:           true,
	}
}

// proc is a child process of the harness: one of Vigil's binaries or a helper.
type proc struct {
	name    string
	cmd     *exec.Cmd
	log     string
	started time.Time // when the harness began to start it: a role's load time counts from here
	done    chan struct{}
	err     error
}

// startProc starts bin with args and env (added to the harness's environment), its output in
// logDir/name.log. onLine, when set, sees every line of its stderr as it is written.
func startProc(name, bin string, args, env []string, logDir string, onLine func(string)) (*proc, error) {
	started := time.Now()
	logPath := filepath.Join(logDir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = lf
	var pw *io.PipeWriter
	var lines sync.WaitGroup
	var logErr error
	if onLine != nil {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		cmd.Stderr = pw
		lines.Go(func() { logErr = copyLines(lf, pr, onLine) })
	} else {
		cmd.Stderr = lf
	}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", name, err), lf.Close())
	}
	p := &proc{name: name, cmd: cmd, log: logPath, started: started, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if pw != nil {
			p.err = errors.Join(p.err, pw.Close())
			lines.Wait()
		}
		// A log that was not written in full is part of how the process ended.
		p.err = errors.Join(p.err, logErr, lf.Close())
		close(p.done)
	}()
	return p, nil
}

// copyLines copies r to w line by line, showing each line to onLine, and keeps draining r
// after a line too long to scan, so that the child writing r never blocks. It returns the
// first failed write or read.
func copyLines(w io.Writer, r io.Reader, onLine func(string)) error {
	var err error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if _, werr := fmt.Fprintln(w, sc.Text()); werr != nil && err == nil {
			err = fmt.Errorf("write log: %w", werr)
		}
		onLine(sc.Text())
	}
	if _, cerr := io.Copy(w, r); cerr != nil && err == nil {
		err = fmt.Errorf("copy log: %w", cerr)
	}
	return err
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits for the process; after timeout it kills it.
func (p *proc) stop(timeout time.Duration) error {
	if ok, _ := p.exited(); ok {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("kill %s: %w", p.name, err)
		}
		<-p.done
		return fmt.Errorf("%s did not stop within %s and was killed (log: %s)", p.name, timeout, p.log)
	}
}

// tail is the end of the process's log, for error messages.
func (p *proc) tail() string {
	raw, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	s := string(raw)
	if len(s) > 1500 {
		s = "…" + s[len(s)-1500:]
	}
	return s
}

// waitHTTP polls url until it answers 200, the process ends or the timeout passes.
func waitHTTP(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	w := wait{every: 20 * time.Millisecond, until: time.Now().Add(timeout), late: func() error {
		return fmt.Errorf("%s: %s not ready after %s: %s", p.name, url, timeout, p.tail())
	}}
	return w.poll(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		// An answer whose body does not close cleanly is no sign of readiness yet.
		if err == nil && resp.Body.Close() == nil && resp.StatusCode == http.StatusOK {
			return true, nil
		}
		if ok, perr := p.exited(); ok {
			return false, fmt.Errorf("%s exited (%v) before %s answered: %s", p.name, perr, url, p.tail())
		}
		return false, nil
	})
}

// wait is how the harness waits for something it can only look at: how often it looks, until
// when, and what it says when that time passes first.
type wait struct {
	every time.Duration
	until time.Time
	wake  <-chan struct{} // when set, a signal to look again at once
	late  func() error
}

// poll asks done now and then at every look, until done holds or fails, ctx ends, or the wait
// runs out.
func (w wait) poll(ctx context.Context, done func() (bool, error)) error {
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(w.until) {
			return w.late()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		case <-time.After(w.every):
		}
	}
}

// freeAddr is a loopback address with a port nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	return addr, nil
}

// scrape reads a Prometheus text page: each series under its full name (with its labels as
// exposed), and each metric summed over its labels under its bare name.
func scrape(ctx context.Context, url string) (_ map[string]float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		full, name := line[:sp], line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[name] += v
		if full != name {
			out[full] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return out, nil
}
