package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// stalledTLS is a target that accepts TCP connections and never answers a TLS handshake: it
// reads what the client sends and keeps the connection open until the client closes it. live
// counts the connections the client still holds open.
type stalledTLS struct {
	addr string
	live atomic.Int64
}

// newStalledTLS starts a stalled target. Unlike rawServer, it never closes a connection
// itself before the test ends, so a client that does not close its side shows up in live.
func newStalledTLS(t *testing.T) *stalledTLS {
	t.Helper()
	s := &stalledTLS{}
	s.addr = rawServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) {
		s.live.Add(1)
		defer s.live.Add(-1)
		_, _ = io.Copy(io.Discard, c) // returns when the client closes (or at cleanup)
		_ = c.Close()
	})
	return s
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files here: %v", err)
	}
	return len(ents)
}

// waitResources polls until the target holds no connection from us and the process's open
// files and goroutines are back to their baselines (with slack for the runtime's own
// goroutines), or fails after a deadline naming what stayed.
func waitResources(t *testing.T, s *stalledTLS, files, goroutines int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		live, f, g := s.live.Load(), openFiles(t), runtime.NumGoroutine()
		if live == 0 && f <= files && g <= goroutines {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("after the checks: %d connections still open at the target, %d open files (%d before), %d goroutines (%d before)\n%s",
				live, f, files, g, goroutines, buf)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// TestStalledTLSHandshakeLeavesNothing is the attack of issue 11: a site that accepts TCP on
// its https port and never answers the handshake. Every check must time out on time, and its
// connection must be closed then, not held forever by a handshake that nothing cuts (net/http
// dials on a context detached from the request's cancellation).
func TestStalledTLSHandshakeLeavesNothing(t *testing.T) {
	// Not parallel: it counts the process's goroutines and open files.
	target := newStalledTLS(t)
	p := NewHTTP(NewGuard(allowLoopback1))
	files, goroutines := openFiles(t), runtime.NumGoroutine()

	const checks, timeoutMS = 200, 300
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	results := make(chan monitor.Result, checks)
	for range checks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results <- p.Probe(context.Background(), monitor.Job{URL: "https://" + target.addr + "/", TimeoutMS: timeoutMS})
		})
	}
	wg.Wait()
	close(results)
	for res := range results {
		require.Equal(t, monitor.OutcomeTimeout, res.Outcome, res.Message)
		require.Contains(t, res.Message, "TLS handshake")
	}
	waitResources(t, target, files, goroutines)
}

// TestGuardClientStalledHandshake is the same attack on the webhook path: the guarded client's
// request ends at its context's deadline and its connection is closed.
func TestGuardClientStalledHandshake(t *testing.T) {
	target := newStalledTLS(t)
	c := NewGuard(allowLoopback1).Client(time.Minute)
	files, goroutines := openFiles(t), runtime.NumGoroutine()

	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, err := newGetRequest(ctx, "https://"+target.addr+"/hook")
		require.NoError(t, err)
		_, err = c.Do(req)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	waitResources(t, target, files, goroutines)
}

// TestEveryPhaseEndsByTheDeadline stalls a check in each phase in turn and requires a timeout
// verdict by the deadline, naming the phase, with nothing left open.
func TestEveryPhaseEndsByTheDeadline(t *testing.T) {
	dns := newFakeDNS(t)
	dns.stall("stalled.test.")
	g := NewGuard(allowLoopback1, WithResolver(dns.resolver()))
	p := NewHTTP(g)

	cases := []struct {
		name  string
		url   func(t *testing.T) string
		stage string
	}{
		{"dns", func(*testing.T) string { return "http://stalled.test/" }, "the DNS answer"},
		{"tls handshake", func(t *testing.T) string { return "https://" + newStalledTLS(t).addr + "/" }, "the TLS handshake"},
		{"response headers", func(t *testing.T) string { return "http://" + rawServer(t, "127.0.0.1:0", neverAnswer) + "/" }, "the response"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url(t)
			goroutines := runtime.NumGoroutine()
			start := time.Now()
			res := p.Probe(context.Background(), monitor.Job{URL: url, TimeoutMS: 300})
			require.Equal(t, monitor.OutcomeTimeout, res.Outcome, res.Message)
			require.Contains(t, res.Message, tc.stage)
			// Generous: the point is that it ends at all, on a loaded machine.
			require.Less(t, time.Since(start), 5*time.Second)
			requireNoGoroutineLeak(t, goroutines)
		})
	}
}

func newGetRequest(ctx context.Context, url string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
}

// TestOutOfDescriptorsIsNoVerdict runs a check in a child process whose open-file limit leaves
// no descriptor free: the check against a healthy site must come back as the worker's own
// fault, never as that site being down.
func TestOutOfDescriptorsIsNoVerdict(t *testing.T) {
	if os.Getenv("VIGIL_PROBE_FD_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOutOfDescriptorsIsNoVerdict$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "VIGIL_PROBE_FD_CHILD=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child:\n%s", out)
		require.Contains(t, string(out), "out of descriptors: reason worker", "child:\n%s", out)
		return
	}
	srv := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	p := NewHTTP(NewGuard(allowLoopback1))
	job := monitor.Job{URL: srv.URL, TimeoutMS: 2000}
	require.Equal(t, monitor.OutcomeUp, p.Probe(context.Background(), job).Outcome)

	var saved syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved))
	// The limit bounds descriptor numbers: lower it just above the files open now, then fill
	// every free number below it.
	limit := uint64(openFiles(t)) + 8
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: limit, Max: saved.Max}))
	var fillers []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			require.ErrorIs(t, err, syscall.EMFILE)
			break
		}
		fillers = append(fillers, f)
	}
	res := p.Probe(context.Background(), job)
	for _, f := range fillers {
		require.NoError(t, f.Close())
	}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved))

	require.Equal(t, ReasonWorker, res.Reason, res.Message)
	require.Contains(t, res.Message, "too many open files")
	t.Logf("out of descriptors: reason %s (%s)", res.Reason, res.Message)
}
