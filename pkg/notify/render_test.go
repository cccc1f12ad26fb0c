package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/notify"
)

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                                   "0s",
		59 * time.Second:                    "59s",
		4*time.Minute + 12*time.Second:      "4m 12s",
		2*time.Hour + 5*time.Second:         "2h 0m 5s",
		73*time.Hour + 30*time.Second:       "3d 1h 0m",
		1500 * time.Millisecond:             "2s",
		-time.Second:                        "0s",
		24*time.Hour - 500*time.Millisecond: "1d 0h 0m",
	} {
		require.Equal(t, want, notify.FormatDuration(d), d.String())
	}
}

func TestDisplayURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "https://shop.example/x?y=1", notify.DisplayURL("https://user:pw@shop.example/x?y=1"))
	require.Equal(t, "https://shop.example", notify.DisplayURL("https://shop.example"))
}
