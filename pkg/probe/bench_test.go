package probe

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// The two benchmarks hit the same local target the same way (GET, a new connection per
// request), so that their ratio is the probe's overhead over a bare Go HTTP loop:
//
//	go test -run '^$' -bench 'BareLoop|Probe$' -benchtime 2s ./pkg/probe/

// benchParallelism is how many checks run at once per GOMAXPROCS: a check mostly waits on
// the network, so a worker runs many at a time, and so do both benchmarks.
const benchParallelism = 16

// cpuTime is the CPU this process has used, user and system. Divided by the checks, it is
// the cost of a check (client and the in-process target together), which stays meaningful
// when other processes share the machine and wall-clock rates do not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/check")
}

// startBenchServer starts a target answering a small page, like a typical health endpoint.
func startBenchServer(b *testing.B) string {
	return newServer(b, text("<html><body>all systems operational</body></html>")).URL
}

func BenchmarkBareLoop(b *testing.B) {
	url := startBenchServer(b)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
	reportRates(b, cpu0)
}

func BenchmarkProbe(b *testing.B) {
	url := startBenchServer(b)
	p := NewHTTP(NewGuard(allowLoopback1))
	job := monitor.Job{WebsiteID: "bench", Region: "local", URL: url, Method: "GET", TimeoutMS: 10000, ExpectedStatus: "200-399"}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := p.Probe(context.Background(), job); res.Outcome != monitor.OutcomeUp {
				b.Errorf("%s: %s", res.Outcome, res.Message)
				return
			}
		}
	})
	reportRates(b, cpu0)
}

// BenchmarkProbeKeyword adds a keyword, so the body is read and searched.
func BenchmarkProbeKeyword(b *testing.B) {
	url := startBenchServer(b)
	p := NewHTTP(NewGuard(allowLoopback1))
	job := monitor.Job{URL: url, TimeoutMS: 10000, Keyword: "operational"}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := p.Probe(context.Background(), job); res.Outcome != monitor.OutcomeUp {
				b.Errorf("%s: %s", res.Outcome, res.Message)
				return
			}
		}
	})
	reportRates(b, cpu0)
}
