package probe

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestKeywordAtTheEdges places the keyword where the search's buffers meet: across reads, at
// the very end of the part of the body that is read, and just past it.
func TestKeywordAtTheEdges(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789abcdef", 20<<10/16) // 20 KiB: more than half the pooled buffer
	tests := []struct {
		name    string
		keyword string
		body    string
		found   bool
	}{
		{"one byte", "!", strings.Repeat(".", 40<<10) + "!", true},
		{"across the first read", "needle", strings.Repeat(".", 32<<10-3) + "needle", true},
		{"long keyword across reads", long, strings.Repeat(".", 30<<10) + long + "tail", true},
		{"long keyword, one byte short", long, strings.Repeat(".", 30<<10) + long[:len(long)-1], false},
		{"keyword as long as the limit", strings.Repeat("k", monitor.MaxBodyBytes), strings.Repeat("k", monitor.MaxBodyBytes), true},
		{"keyword longer than the limit", strings.Repeat("k", monitor.MaxBodyBytes+1), strings.Repeat("k", monitor.MaxBodyBytes+1), false},
		{"ends at the limit", "needle", strings.Repeat(".", monitor.MaxBodyBytes-6) + "needle", true},
		{"ends one byte past the limit", "needle", strings.Repeat(".", monitor.MaxBodyBytes-5) + "needle", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write([]byte(tt.body))
			}))
			res := NewHTTP(NewGuard(allowLoopback1)).Probe(context.Background(),
				monitor.Job{URL: srv.URL, TimeoutMS: 5000, Keyword: tt.keyword})
			if tt.found {
				require.Equal(t, monitor.OutcomeUp, res.Outcome, res.Message)
				return
			}
			require.Equal(t, monitor.OutcomeDown, res.Outcome, res.Message)
			require.Equal(t, ReasonKeyword, res.Reason, res.Message)
		})
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{strings.Repeat("a", maxMessage), strings.Repeat("a", maxMessage)},
		{strings.Repeat("a", maxMessage+1), strings.Repeat("a", maxMessage) + "…"},
		{strings.Repeat("a", maxMessage-1) + "é", strings.Repeat("a", maxMessage-1) + "…"}, // no half rune
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, truncate(tt.in), "%d bytes", len(tt.in))
	}
}
