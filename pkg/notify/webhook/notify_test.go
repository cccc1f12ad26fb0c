package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
)

// TestNotifyRetryClass checks the webhook channel's verdicts: a 2xx is delivered, a Slack body
// that cannot be rendered is never worth a retry, and a receiver's error answer is worth one.
func TestNotifyRetryClass(t *testing.T) {
	t.Parallel()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		got = r.Header.Clone()
	}))
	t.Cleanup(srv.Close)
	c := webhook.New(srv.Client(), []byte("key"), nil)
	down := notify.Alert{Kind: monitor.KindDown, IncidentID: "inc-1"}

	retry, err := c.Notify(context.Background(), notify.Message{ID: "row-1", Recipient: srv.URL + "/ok", Alert: down})
	require.NoError(t, err)
	require.False(t, retry)
	require.Equal(t, "row-1", got.Get(webhook.IDHeader))
	require.Equal(t, monitor.KindDown, got.Get(webhook.EventHeader))

	retry, err = c.Notify(context.Background(), notify.Message{ID: "row-2", Recipient: "https://hooks.slack.com/services/x",
		Alert: notify.Alert{Kind: "maybe"}})
	require.Error(t, err)
	require.False(t, retry, "a body that cannot be rendered never will be")

	retry, err = c.Notify(context.Background(), notify.Message{ID: "row-3", Recipient: srv.URL + "/fail", Alert: down})
	require.ErrorContains(t, err, "503")
	require.True(t, retry, "a receiver's error answer is worth another attempt")
}
