package monitor_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

func TestNextDue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name               string
		now, phase, period int64
		want               int64
	}{
		{"exactly on the phase", 1_020_000, 0, 60_000, 1_020_000},
		{"just after the phase waits a whole period", 1_020_001, 0, 60_000, 1_080_000},
		{"later in the same period", 1_020_000, 15_000, 60_000, 1_035_000},
		{"phase already passed in this period", 1_040_000, 15_000, 60_000, 1_095_000},
		{"last millisecond of the period", 1_079_999, 19_999, 20_000, 1_079_999},
		{"period of a day", 86_400_000*3 + 5, 7, 86_400_000, 86_400_000*3 + 7},
		{"zero time", 0, 5, 10_000, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := monitor.NextDue(c.now, c.phase, c.period)
			require.Equal(t, c.want, got)
			require.GreaterOrEqual(t, got, c.now)
			require.Less(t, got-c.now, c.period)
			require.Equal(t, c.phase, got%c.period)
		})
	}
}
