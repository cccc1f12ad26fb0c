package monitor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

func TestJobTimeoutAndSlowThreshold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		timeoutMS     int
		slowMS        int
		timeout, slow time.Duration
	}{
		{"unset takes the default", 0, 0, 10 * time.Second, 8 * time.Second},
		{"negative takes the default", -5, 0, 10 * time.Second, 8 * time.Second},
		{"within bounds", 2000, 0, 2 * time.Second, 1600 * time.Millisecond},
		{"the maximum itself", monitor.MaxTimeoutMS, 0, time.Minute, 48 * time.Second},
		{"above the maximum is clamped", monitor.MaxTimeoutMS + 1, 0, time.Minute, 48 * time.Second},
		{"slow_ms wins over the 80% rule", 2000, 500, 2 * time.Second, 500 * time.Millisecond},
		{"slow_ms may exceed the timeout", 2000, 3000, 2 * time.Second, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			j := monitor.Job{TimeoutMS: c.timeoutMS, SlowMS: c.slowMS}
			require.Equal(t, c.timeout, j.Timeout())
			require.Equal(t, c.slow, j.SlowThreshold())
		})
	}
}
