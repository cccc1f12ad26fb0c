package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/config"
)

func TestSchedulerDefaults(t *testing.T) {
	var c config.Scheduler
	require.NoError(t, config.Load(&c))
	require.Equal(t, 5*time.Minute, c.ResyncInterval)
	require.Equal(t, 2*time.Second, c.LeaderRetry)
	require.Equal(t, 25*time.Millisecond, c.Tick)
	require.Equal(t, 500, c.DispatchBatch)
	require.EqualValues(t, 1_000_000, c.StreamMaxLen)
	require.Equal(t, 60*time.Second, c.PendingGrace)
}

func TestSchedulerValidate(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"zero resync", "VIGIL_RESYNC_INTERVAL", "0s", "VIGIL_RESYNC_INTERVAL"},
		{"leader retry too slow to take over in 15s", "VIGIL_LEADER_RETRY", "30s", "VIGIL_LEADER_RETRY"},
		{"negative tick", "VIGIL_TICK", "-5ms", "VIGIL_TICK"},
		{"empty batch", "VIGIL_DISPATCH_BATCH", "0", "VIGIL_DISPATCH_BATCH"},
		{"tiny stream", "VIGIL_STREAM_MAXLEN", "10", "VIGIL_STREAM_MAXLEN"},
		{"not a duration", "VIGIL_PENDING_GRACE", "soon", "invalid duration"},
		{"bad log format", "VIGIL_LOG_FORMAT", "xml", "VIGIL_LOG_FORMAT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.key, c.value)
			var cfg config.Scheduler
			require.ErrorContains(t, config.Load(&cfg), c.want)
		})
	}
}
