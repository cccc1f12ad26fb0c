package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// targetBody is what the target answers: a small page, like a typical health endpoint.
const targetBody = "<html><body>all systems operational</body></html>"

// runTarget serves the check target until ctx ends, in a process of its own so that its CPU is
// charged neither to the worker nor to the bare loop. It prints its URL on stdout once
// listening. Go's listener takes the kernel's somaxconn as its backlog, which is what lets
// 5,000 connections arrive at once.
func runTarget(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	delay := fs.Duration("delay", 0, "how long each answer takes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	var cut atomic.Int64
	srv := &http.Server{
		Handler:           targetHandler(*delay, &cut),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if _, err := fmt.Fprintf(stdout, "http://%s/\n", ln.Addr()); err != nil {
		return errors.Join(fmt.Errorf("target: %w", err), ln.Close())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("target: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var stopErr error
	if err := srv.Shutdown(sctx); err != nil {
		// Answers still in flight after the grace are cut: the figures are already taken.
		stopErr = errors.Join(err, srv.Close())
	}
	// What the target saw goes to its log (stdout), for whoever reads the run's logs.
	_, err = fmt.Fprintf(stdout, "target: stopped (%v); %d answers cut short by their client\n", stopErr, cut.Load())
	return err
}

// targetHandler serves targetBody after delay; cut counts the answers whose client left before
// it was written in full, which only the client can count as a failure.
func targetHandler(delay time.Duration, cut *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header().Set("Content-Type", "text/html")
		if _, err := io.WriteString(w, targetBody); err != nil {
			cut.Add(1)
		}
	})
}

// flipTarget answers 200 for /d/N until N's outage time, then 503.
type flipTarget struct {
	downAt []atomic.Int64 // unix nanos; 0 means up
	hits   []atomic.Int64 // answers written in full while up
}

func (f *flipTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/d/"))
	if err != nil || i < 0 || i >= len(f.downAt) {
		http.NotFound(w, r)
		return
	}
	if d := f.downAt[i].Load(); d != 0 && time.Now().UnixNano() >= d {
		http.Error(w, "outage", http.StatusServiceUnavailable)
		return
	}
	if _, err := io.WriteString(w, targetBody); err == nil {
		f.hits[i].Add(1)
	}
}

// serveFlipTarget serves a flipTarget for n websites on a loopback address, until the section's
// stores close.
func (b *bench) serveFlipTarget(st *sectionStores, n int) (*flipTarget, net.Addr, error) {
	target := &flipTarget{downAt: make([]atomic.Int64, n), hits: make([]atomic.Int64, n)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: target, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			b.logf("detection: target: %v", err)
		}
	}()
	st.closeWith(srv.Close)
	return target, ln.Addr(), nil
}

// loopResult is what the bare loop reports, as JSON on stdout.
type loopResult struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate"`         // requests/s between 5% and 95% of the run
	CPUPerReq  float64 `json:"cpu_us"`       // µs of this process's CPU per request, same window
	TotalRate  float64 `json:"total_rate"`   // requests/s over the whole run
	TotalCPUUS float64 `json:"total_cpu_us"` // µs per request over the whole run
	HWMKB      int64   `json:"hwm_kb"`
}

// runBareLoop is the baseline: the plainest Go HTTP client loop, a new connection per request
// (as every check makes), with the same concurrency as the worker, against the same target.
func runBareLoop(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bareloop", flag.ContinueOnError)
	url := fs.String("url", "", "target URL")
	n := fs.Int("n", 10000, "requests")
	c := fs.Int("c", 256, "concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, MaxConnsPerHost: 0},
	}
	var next, done, failed atomic.Int64
	sampler := newSampler(func() (float64, time.Duration) { return float64(done.Load()), selfCPU() })
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan []sample)
	go func() { samplerDone <- sampler.run(sctx, 10*time.Millisecond) }()

	start := time.Now()
	cpu0 := selfCPU()
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) && ctx.Err() == nil {
				resp, err := client.Get(*url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					err = errors.Join(err, resp.Body.Close())
				}
				if err != nil {
					failed.Add(1)
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := selfCPU() - cpu0
	stopSampler()
	samples := <-samplerDone
	samples = append(samples, sample{at: time.Now(), done: float64(done.Load()), cpu: selfCPU()})
	st := steady(samples, float64(*n))
	_, hwm := procMem(0)
	return json.NewEncoder(stdout).Encode(loopResult{
		Requests: *n, Errors: int(failed.Load()), Seconds: elapsed.Seconds(),
		Rate: st.rate, CPUPerReq: st.cpuPerItemUS,
		TotalRate: float64(*n) / elapsed.Seconds(), TotalCPUUS: float64(cpu.Microseconds()) / float64(*n),
		HWMKB: hwm,
	})
}

// raiseFileLimit lifts this process's soft limit on open files to the hard limit: 5,000 checks
// at once are 5,000 sockets here and 5,000 in the target. Children inherit it. It returns the
// soft limit now in force.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("setrlimit nofile %d: %w", l.Max, err)
		}
	}
	return l.Cur, nil
}
