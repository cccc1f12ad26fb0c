package probe

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestJobLimits runs checks whose settings sit at or past their limits against a healthy
// target: a timeout of zero or below takes the default and one above the maximum is capped
// (neither turns into a deadline that has already passed), the slow threshold defaults to 80%
// of the timeout, and methods are tokens of at most 32 bytes.
func TestJobLimits(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 16)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Method
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(200 * time.Millisecond): // well under 80% of 5 s, well over 5 s / 80
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte("ok"))
	}))
	p := NewHTTP(NewGuard(allowLoopback1))
	tests := []struct {
		name   string
		job    monitor.Job
		want   monitor.Outcome
		reason string
		method string // the method the target must see
		msg    string // part of the message
	}{
		{name: "zero timeout takes the default", job: monitor.Job{TimeoutMS: 0}, want: monitor.OutcomeUp},
		{name: "negative timeout takes the default", job: monitor.Job{TimeoutMS: -1}, want: monitor.OutcomeUp},
		{name: "timeout above the maximum is capped", job: monitor.Job{TimeoutMS: monitor.MaxTimeoutMS + 1}, want: monitor.OutcomeUp},
		{name: "huge timeout is capped", job: monitor.Job{TimeoutMS: 1 << 30}, want: monitor.OutcomeUp},
		{name: "200 ms is not slow for a 5 s timeout", job: monitor.Job{TimeoutMS: 5000, URL: "/slow"}, want: monitor.OutcomeUp},
		{name: "200 ms is not slow under slow_ms", job: monitor.Job{TimeoutMS: 5000, SlowMS: 4000, URL: "/slow"},
			want: monitor.OutcomeUp},
		{name: "200 ms is slow past slow_ms", job: monitor.Job{TimeoutMS: 5000, SlowMS: 100, URL: "/slow"},
			want: monitor.OutcomeDegraded, reason: ReasonSlow},
		{name: "32-byte method", job: monitor.Job{TimeoutMS: 5000, Method: strings.Repeat("M", 32)},
			want: monitor.OutcomeUp, method: strings.Repeat("M", 32)},
		{name: "method is upper-cased and trimmed", job: monitor.Job{TimeoutMS: 5000, Method: " head "},
			want: monitor.OutcomeUp, method: http.MethodHead},
		{name: "33-byte method", job: monitor.Job{TimeoutMS: 5000, Method: strings.Repeat("M", 33)},
			want: monitor.OutcomeDown, reason: ReasonInvalid, msg: "method"},
		{name: "method with a space", job: monitor.Job{TimeoutMS: 5000, Method: "GE T"},
			want: monitor.OutcomeDown, reason: ReasonInvalid, msg: "method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: each case reads the method its own check sent.
			job := tt.job
			job.URL = srv.URL + job.URL
			res := p.Probe(context.Background(), job)
			require.Equal(t, tt.want, res.Outcome, res.Message)
			require.Equal(t, tt.reason, res.Reason, res.Message)
			require.Contains(t, res.Message, tt.msg)
			if tt.want == monitor.OutcomeDown {
				return
			}
			method := <-seen
			if tt.method != "" {
				require.Equal(t, tt.method, method)
			}
		})
	}
}
