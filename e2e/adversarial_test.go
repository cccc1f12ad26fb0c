package e2e

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stalledTLSTarget accepts TCP connections and never answers a TLS handshake; it closes its
// side only when the client closes, so every connection the worker fails to close stays open.
func stalledTLSTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestAdversarialStalledTLSHandshakes is the attack of issue 11 on the real worker binary: sites
// that accept TCP on their https port and never answer the handshake. Before the fix every such
// check left a socket and two goroutines behind (60 sites at 10 s gained 360 descriptors a
// minute, until the worker ran out and reported healthy sites down). The worker's open files
// and goroutines must stay flat over several rounds, every stalled check must be a timeout,
// and the healthy site must stay up. VIGIL_FAULTS_FULL=1 runs it for five minutes.
func TestAdversarialStalledTLSHandshakes(t *testing.T) {
	const sites = 60
	fp := newFaultPlatform(t)
	fp.StartAPI()
	fp.CreateRegions("europe")
	fp.StartScheduler("scheduler-a")
	worker := fp.StartWorker("europe-1", "europe")

	addr := stalledTLSTarget(t)
	for i := range sites {
		fp.CreateWebsite(map[string]any{"name": fmt.Sprintf("stalled-%d", i),
			"url": fmt.Sprintf("https://%s/%d", addr, i), "timeout_ms": 2000})
	}
	fp.CreateWebsite(map[string]any{"name": "healthy", "url": slowTarget(t, 0), "timeout_ms": 2000})

	metric := func(name string, labels ...string) float64 {
		v, ok := fp.Metric(worker, name, labels...)
		require.True(t, ok, "the worker's /metrics answers")
		return v
	}
	timeouts := func() float64 { return metric("vigil_checks_total", `outcome="timeout"`) }
	// Two rounds first, so that the baseline includes everything a round uses.
	waitFor(t, 60*time.Second, "two rounds of stalled checks", func() bool { return timeouts() >= 2*sites })
	files, goroutines, before := metric("process_open_fds"), metric("go_goroutines"), timeouts()
	// Three more rounds (30 s at the 10 s interval); 30 rounds, five minutes, in the full run.
	rounds := 3
	if faultsFull() {
		rounds = 30
	}
	filesMax, goroutinesMax := files, goroutines
	waitFor(t, time.Duration(rounds)*faultInterval+60*time.Second, "more rounds", func() bool {
		filesMax, goroutinesMax = max(filesMax, metric("process_open_fds")), max(goroutinesMax, metric("go_goroutines"))
		return timeouts() >= before+float64(rounds*sites)
	})
	filesAfter, goroutinesAfter := metric("process_open_fds"), metric("go_goroutines")

	logMeasure(t, fmt.Sprintf("worker open files before, highest and after %d rounds of %d stalled handshakes", rounds, sites),
		fmt.Sprintf("%.0f, %.0f, %.0f", files, filesMax, filesAfter))
	logMeasure(t, "worker goroutines before, highest and after", fmt.Sprintf("%.0f, %.0f, %.0f", goroutines, goroutinesMax, goroutinesAfter))
	// A leak grows by one descriptor and two goroutines per stalled check: 180 and 360 here.
	// The slack covers checks in flight at the moment of the sample and the runtime's own.
	require.Less(t, filesAfter-files, float64(sites/2), "open files grew")
	require.Less(t, goroutinesAfter-goroutines, float64(sites), "goroutines grew")
	require.Zero(t, metric("vigil_checks_total", `outcome="down"`), "no site was reported down")
	require.Zero(t, metric("vigil_worker_check_faults_total"), "the worker never ran out of its own resources")
	require.Positive(t, metric("vigil_checks_total", `outcome="up"`), "the healthy site is checked and up")
}
