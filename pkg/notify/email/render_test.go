package email_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
)

func TestEmailSubjects(t *testing.T) {
	t.Parallel()
	long := ""
	for range 30 {
		long += "very long name "
	}
	tests := []struct {
		name string
		a    notify.Alert
		want string
	}{
		{"down with message", notify.Alert{Kind: monitor.KindDown, Website: notify.AlertWebsite{Name: "Shop"}, Cause: monitor.Cause{Message: "HTTP 503"}}, "[DOWN] Shop — HTTP 503"},
		{"down with status only", notify.Alert{Kind: monitor.KindDown, Website: notify.AlertWebsite{Name: "Shop"}, Cause: monitor.Cause{StatusCode: 500}}, "[DOWN] Shop — HTTP 500"},
		{"down with outcome only", notify.Alert{Kind: monitor.KindDown, Website: notify.AlertWebsite{Name: "Shop"}, Cause: monitor.Cause{Outcome: "timeout", Reason: "timeout"}}, "[DOWN] Shop — timeout (timeout)"},
		{"recovered", notify.Alert{Kind: monitor.KindRecovered, Website: notify.AlertWebsite{Name: "Shop"}, Duration: 3600}, "[RECOVERED] Shop — down for 1h 0m 0s"},
		{"newlines folded", notify.Alert{Kind: monitor.KindDown, Website: notify.AlertWebsite{Name: "a\r\nBcc: x"}, Cause: monitor.Cause{Message: "m"}}, "[DOWN] a Bcc: x — m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := email.Render(tt.a, "ops@example.com")
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Subject)
			require.Equal(t, []string{"ops@example.com"}, m.To)
		})
	}
	m, err := email.Render(notify.Alert{Kind: monitor.KindDown, Website: notify.AlertWebsite{Name: long}}, "ops@example.com")
	require.NoError(t, err)
	require.LessOrEqual(t, len([]rune(m.Subject)), 120)
	_, err = email.Render(notify.Alert{Kind: "maybe"}, "ops@example.com")
	require.Error(t, err)
}
