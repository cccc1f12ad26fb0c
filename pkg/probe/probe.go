// Package probe runs Vigil's checks and keeps them away from the machine's own network. Each
// protocol has its own file (http.go today) and its own deadline per check, and every
// connection a check or a webhook opens passes the SSRF Guard at connect time, after DNS.
package probe

import (
	"context"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Prober runs one check of a job. Implementations never panic and always return a verdict,
// bounded by the job's timeout.
type Prober interface {
	Probe(ctx context.Context, job monitor.Job) monitor.Result
}

var _ Prober = (*HTTP)(nil)
