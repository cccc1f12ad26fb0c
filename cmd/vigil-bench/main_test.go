package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for vigil-bench's helper processes: the harness
// re-executes its own binary as `target` and `bareloop`, and under go test that binary is this.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "target" || os.Args[1] == "bareloop") {
		if err := dispatch(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole harness at its tiny size against the local stack, so that it never
// rots: every section must run to its end and be in the report. It asserts nothing about
// speed; the figures of a smoke run mean nothing.
func TestSmoke(t *testing.T) {
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	o, err := parseOptions([]string{"-smoke", "-out", out, "-logs", t.TempDir()}, io.Discard, io.Discard)
	require.NoError(t, err)
	require.NoError(t, run(context.Background(), o, testWriter{t}))

	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	report := string(raw)
	for _, want := range []string{
		"## Machine", "## Versions", "## How it was run", "## Summary",
		"## 1. Worker throughput", "### CPU-bound", "### Latency-bound",
		"## 2 and 5. Scheduler at scale, and growth", "### Load time and memory as the schedule grows",
		"dispatch capacity into Redis", "lateness p99", "API change to schedule",
		"## 3. Detection latency", "outage to DOWN email",
		"## 4. API under load", "GET /monitor p99", "GET /websites p99", "GET /monitor/:id?days=1 p99", "GET /monitor/:id/uptime p99",
		"## Targets missed in this run", "Smoke mode",
	} {
		require.Contains(t, report, want)
	}
	require.NotContains(t, report, "The section failed")
	require.False(t, strings.Contains(report, "| the section failed |"))
}

// testWriter sends the harness's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
