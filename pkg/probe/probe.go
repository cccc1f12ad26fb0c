// Package probe runs Vigil's checks and keeps them away from the machine's own network. Each
// check type has its own file (http.go today) with its own deadline per check, and is
// registered by type in NewRegistry; every connection a check or a webhook opens passes the
// SSRF Guard at connect time, after DNS.
package probe

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Func runs one check of a job. A check type's Func never panics and always returns a verdict,
// bounded by the job's timeout (monitor.Job.Timeout).
type Func func(ctx context.Context, job monitor.Job) monitor.Result

// Registry runs each job with the prober of its check type, which the scheme of the job's URL
// names ("https" is the HTTP check over TLS), as blackbox_exporter's map of probers does. A new
// check type is a file with its prober and one line in NewRegistry.
type Registry struct {
	types map[string]Func
	now   func() time.Time
}

// NewRegistry returns a Registry of every check type, each of whose connections passes g. The
// options configure the HTTP check; WithClock also stamps the results of malformed jobs.
func NewRegistry(g *Guard, opts ...HTTPOption) *Registry {
	cfg := httpConfig{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	h := NewHTTP(g, opts...)
	return &Registry{now: cfg.now, types: map[string]Func{
		"http":  h.Probe,
		"https": h.Probe,
	}}
}

// Probe runs job with the prober of its check type. A job whose URL is not a URL, or names no
// registered type, is down with reason "invalid", as any other malformed job.
func (r *Registry) Probe(ctx context.Context, job monitor.Job) monitor.Result {
	u, err := url.Parse(job.URL)
	if err != nil {
		return invalid(r.result(job), "url: not a valid URL")
	}
	check, ok := r.types[strings.ToLower(u.Scheme)]
	if !ok {
		return invalid(r.result(job), fmt.Sprintf("url: scheme %q is not http or https: %v", u.Scheme, ErrInvalidURL))
	}
	return check(ctx, job)
}

func (r *Registry) result(job monitor.Job) monitor.Result {
	return monitor.Result{WebsiteID: job.WebsiteID, Region: job.Region, At: r.now()}
}
