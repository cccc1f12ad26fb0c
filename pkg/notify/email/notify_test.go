package email_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
)

// TestNotifyRetryClass checks the email channel's verdicts: a delivered message, a message that
// cannot be rendered (never worth a retry) and a server that cannot be reached (worth one).
func TestNotifyRetryClass(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	down := notify.Alert{Kind: monitor.KindDown, IncidentID: "inc-1", Website: notify.AlertWebsite{Name: "Shop"}}
	cases := []struct {
		name  string
		port  int
		alert notify.Alert
		ok    bool
		retry bool
	}{
		{"delivered", sink.Port(), down, true, false},
		{"unknown kind is never rendered", sink.Port(), notify.Alert{Kind: "maybe"}, false, false},
		{"unreachable server is retried", closedPort, down, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := email.NewSMTP(email.Config{Host: "127.0.0.1", Port: c.port, From: "vigil@example.com",
				TLS: email.TLSNone, Timeout: 5 * time.Second})
			require.NoError(t, err)
			retry, err := s.Notify(context.Background(), notify.Message{ID: "row-" + c.name[:4], Recipient: "ops@example.com", Alert: c.alert})
			require.Equal(t, c.ok, err == nil, "err: %v", err)
			require.Equal(t, c.retry, retry)
		})
	}
}
