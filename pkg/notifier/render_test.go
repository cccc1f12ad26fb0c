package notifier_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notifier"
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
		require.Equal(t, want, notifier.FormatDuration(d), d.String())
	}
}

func TestDisplayURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "https://shop.example/x?y=1", notifier.DisplayURL("https://user:pw@shop.example/x?y=1"))
	require.Equal(t, "https://shop.example", notifier.DisplayURL("https://shop.example"))
}

func TestSlackBody(t *testing.T) {
	t.Parallel()
	a := notifier.Alert{Kind: monitor.KindDown, Website: notifier.AlertWebsite{Name: "<!channel> & co", URL: "https://x.example"},
		Cause: monitor.Cause{Message: "HTTP 503"}, Regions: []string{"eu"}, StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := notifier.WebhookBody(a, true)
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	require.Contains(t, m["text"], "&lt;!channel&gt; &amp; co is DOWN")
	require.Contains(t, m["text"], "HTTP 503")
	require.Contains(t, m["text"], "2026-01-02 03:04:05 UTC")
	require.Len(t, m, 1)

	a.Kind, a.Duration = monitor.KindRecovered, 252
	b, err = notifier.WebhookBody(a, true)
	require.NoError(t, err)
	require.Contains(t, string(b), "RECOVERED* after 4m 12s")

	b, err = notifier.WebhookBody(a, false)
	require.NoError(t, err)
	var back notifier.Alert
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, "recovered", back.Kind)
	require.EqualValues(t, 252, back.Duration)
}

func TestEmailSubjects(t *testing.T) {
	t.Parallel()
	long := ""
	for range 30 {
		long += "very long name "
	}
	tests := []struct {
		name string
		a    notifier.Alert
		want string
	}{
		{"down with message", notifier.Alert{Kind: monitor.KindDown, Website: notifier.AlertWebsite{Name: "Shop"}, Cause: monitor.Cause{Message: "HTTP 503"}}, "[DOWN] Shop — HTTP 503"},
		{"down with status only", notifier.Alert{Kind: monitor.KindDown, Website: notifier.AlertWebsite{Name: "Shop"}, Cause: monitor.Cause{StatusCode: 500}}, "[DOWN] Shop — HTTP 500"},
		{"down with outcome only", notifier.Alert{Kind: monitor.KindDown, Website: notifier.AlertWebsite{Name: "Shop"}, Cause: monitor.Cause{Outcome: "timeout", Reason: "timeout"}}, "[DOWN] Shop — timeout (timeout)"},
		{"recovered", notifier.Alert{Kind: monitor.KindRecovered, Website: notifier.AlertWebsite{Name: "Shop"}, Duration: 3600}, "[RECOVERED] Shop — down for 1h 0m 0s"},
		{"newlines folded", notifier.Alert{Kind: monitor.KindDown, Website: notifier.AlertWebsite{Name: "a\r\nBcc: x"}, Cause: monitor.Cause{Message: "m"}}, "[DOWN] a Bcc: x — m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := notifier.Email(tt.a, "ops@example.com")
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Subject)
			require.Equal(t, []string{"ops@example.com"}, m.To)
		})
	}
	m, err := notifier.Email(notifier.Alert{Kind: monitor.KindDown, Website: notifier.AlertWebsite{Name: long}}, "ops@example.com")
	require.NoError(t, err)
	require.LessOrEqual(t, len([]rune(m.Subject)), 120)
	_, err = notifier.Email(notifier.Alert{Kind: "maybe"}, "ops@example.com")
	require.Error(t, err)
}

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
