package probe

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// The two benchmarks hit the same local target the same way (GET, a new connection per
// request), so that their ratio is the probe's overhead over a bare Go HTTP loop:
//
//	go test -run '^$' -bench 'BareLoop|Probe$' -benchtime 2s ./pkg/probe/

// benchParallelism is how many checks run at once per GOMAXPROCS: a check mostly waits on
// the network, so a worker runs many at a time, and so do both benchmarks.
const benchParallelism = 16

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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

func BenchmarkProbe(b *testing.B) {
	url := startBenchServer(b)
	p := NewHTTP(NewGuard(allowLoopback1))
	job := monitor.Job{WebsiteID: "bench", Region: "local", URL: url, Method: "GET", TimeoutMS: 10000, ExpectedStatus: "200-399"}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := p.Probe(context.Background(), job); res.Outcome != monitor.OutcomeUp {
				b.Errorf("%s: %s", res.Outcome, res.Message)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

// BenchmarkProbeKeyword adds a keyword, so the body is read and searched.
func BenchmarkProbeKeyword(b *testing.B) {
	url := startBenchServer(b)
	p := NewHTTP(NewGuard(allowLoopback1))
	job := monitor.Job{URL: url, TimeoutMS: 10000, Keyword: "operational"}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := p.Probe(context.Background(), job); res.Outcome != monitor.OutcomeUp {
				b.Errorf("%s: %s", res.Outcome, res.Message)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
