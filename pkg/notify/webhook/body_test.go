package webhook_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
)

func TestSlackBody(t *testing.T) {
	t.Parallel()
	a := notify.Alert{Kind: monitor.KindDown, Website: notify.AlertWebsite{Name: "<!channel> & co", URL: "https://x.example"},
		Cause: monitor.Cause{Message: "HTTP 503"}, Regions: []string{"eu"}, StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := webhook.Body(a, true)
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	require.Contains(t, m["text"], "&lt;!channel&gt; &amp; co is DOWN")
	require.Contains(t, m["text"], "HTTP 503")
	require.Contains(t, m["text"], "2026-01-02 03:04:05 UTC")
	require.Len(t, m, 1)

	a.Kind, a.Duration = monitor.KindRecovered, 252
	b, err = webhook.Body(a, true)
	require.NoError(t, err)
	require.Contains(t, string(b), "RECOVERED* after 4m 12s")

	b, err = webhook.Body(a, false)
	require.NoError(t, err)
	var back notify.Alert
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, "recovered", back.Kind)
	require.EqualValues(t, 252, back.Duration)
}
