package notifier_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/notifier"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tt := range []struct {
		rand    float64
		attempt int
		want    time.Duration
	}{
		{0, 1, 5 * time.Second},
		{0.999999, 1, 10 * time.Second},
		{0.5, 2, 15 * time.Second},
		{0, 4, 40 * time.Second},
		{0, 20, 5 * time.Minute},
		{0.999999, 200, 10 * time.Minute},
	} {
		n := h.notifier(func(p *notifier.Params) { p.Rand = func() float64 { return tt.rand } })
		require.InDelta(t, float64(tt.want), float64(n.Backoff(tt.attempt)), float64(time.Millisecond), "attempt %d rand %v", tt.attempt, tt.rand)
	}
}
