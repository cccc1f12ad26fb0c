package notifier

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// WebhookBody renders an alert for a webhook: the Alert itself as JSON, or, for a Slack incoming
// webhook (a hooks.slack.com URL), a Slack message whose text says the same as the subject of
// the email. Slack's mrkdwn treats &, < and > specially, so user text is escaped for it.
func WebhookBody(a Alert, slack bool) ([]byte, error) {
	if !slack {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("notifier: encode webhook body: %w", err)
		}
		return b, nil
	}
	name := slackEscape(oneLine(a.Website.Name))
	var text string
	switch a.Kind {
	case monitor.KindDown:
		text = fmt.Sprintf(":red_circle: *%s is DOWN* — %s\n%s\nRegions: %s · since %s",
			name, slackEscape(oneLine(CauseText(a.Cause))), slackEscape(a.Website.URL),
			slackEscape(strings.Join(a.Regions, ", ")), a.StartedAt.UTC().Format(timeLayout))
	case monitor.KindRecovered:
		text = fmt.Sprintf(":large_green_circle: *%s has RECOVERED* after %s\n%s",
			name, FormatDuration(time.Duration(a.Duration)*time.Second), slackEscape(a.Website.URL))
	default:
		return nil, fmt.Errorf("notifier: unknown alert kind %q", a.Kind)
	}
	if a.DashboardURL != "" {
		text += "\n<" + slackEscape(a.DashboardURL) + "|Open in Vigil>"
	}
	b, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return nil, fmt.Errorf("notifier: encode slack body: %w", err)
	}
	return b, nil
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
