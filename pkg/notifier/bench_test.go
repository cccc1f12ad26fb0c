package notifier_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkApply measures one transition's transaction (state, period, quorum, incident,
// outbox) on the local PostgreSQL. Iterations alternate down and up of one-region websites, so
// half of them open an incident and write an outbox row and the other half resolve it.
func BenchmarkApply(b *testing.B) {
	h := newHarness(b)
	n := h.notifier()
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = h.website(site{name: "Bench", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	}
	b.ResetTimer()
	for i := range b.N {
		id := ids[i%len(ids)]
		at := h.at(time.Duration(i) * time.Second)
		tr := down(id, "eu", at)
		if (i/len(ids))%2 == 1 {
			tr = up(id, "eu", at)
		}
		res, err := n.Apply(h.ctx, tr)
		require.NoError(b, err)
		require.True(b, res.Changed)
	}
}

// TestEventToEmailLatency reports how long a transition takes from XADD to the SMTP server
// accepting the DOWN email, through the whole notifier (read, transaction, ack, wake, send).
func TestEventToEmailLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	t.Parallel()
	h := newHarness(t)
	h.run(h.notifier())
	const n = 20
	var total, worst time.Duration
	for i := range n {
		id := h.website(site{name: "Lat", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
		start := time.Now()
		h.publish(down(id, "eu", h.at(time.Duration(i)*time.Second)))
		h.waitMessages(i + 1)
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	t.Logf("event to accepted email: mean %s, worst %s over %d incidents", total/n, worst, n)
}
