// Command vigil-bench is the benchmark harness of issue 8: it runs Vigil's real binaries against
// the local stack (scripts/stack up) and writes what it measured to docs/benchmarks.md, next to
// baselines measured in the same run, because absolute numbers drift on a shared machine.
//
//	vigil-bench [-smoke] [-out docs/benchmarks.md] [-bin DIR] [-sections worker,scheduler,detection,api]
//
// Sections: worker throughput against a bare Go HTTP loop, the scheduler at a million pairs
// (load, memory, dispatch capacity, lateness, change latency) and its growth from 10k pairs,
// detection latency from an outage to the DOWN email, and the API under 32 concurrent clients.
// Each section works in a PostgreSQL database, a Redis key prefix and an InfluxDB database of
// its own, dropped at the end. -smoke runs every section at a tiny size in seconds; CI runs it
// from the package's test, which asserts only that every section was produced.
//
// The harness also runs as its own helper processes, so that the baselines and the targets do
// not share a process (and a CPU count) with the harness:
//
//	vigil-bench target -delay 500ms            an HTTP target; prints its URL
//	vigil-bench bareloop -url U -n N -c C      the bare loop; prints its figures as JSON
package main

import (
	"context"
	"io"

	"github.com/vigil-monitor/vigil/pkg/cli"
)

func main() { cli.Main("vigil-bench", dispatch) }

// dispatch runs a helper subcommand, or the harness.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "target":
			return runTarget(ctx, args[1:], stdout)
		case "bareloop":
			return runBareLoop(ctx, args[1:], stdout)
		}
	}
	opts, err := parseOptions(args, stdout, stderr)
	if err != nil {
		return err
	}
	return run(ctx, opts, stderr)
}
