package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Alert is the payload of an outbox row: everything a message about one incident transition
// needs, captured in the transaction that changed the incident. The sender renders it without
// reading anything else, so a message says what was true when the incident changed, even if
// the website is renamed before delivery. It is also the JSON body of a webhook.
type Alert struct {
	// Kind is monitor.KindDown or monitor.KindRecovered.
	Kind       string        `json:"event"`
	IncidentID string        `json:"incident_id"`
	Website    AlertWebsite  `json:"website"`
	StartedAt  time.Time     `json:"started_at"`
	EndedAt    *time.Time    `json:"ended_at"`
	Duration   int64         `json:"duration_seconds"`
	Cause      monitor.Cause `json:"cause"`
	// Regions are the regions that were down during the incident, in the order they went down.
	Regions []string `json:"regions"`
	// Latest is the check behind the transition that changed the incident.
	Latest AlertCheck `json:"latest"`
	// DashboardURL links to the website in the dashboard; empty when VIGIL_DASHBOARD_URL is.
	DashboardURL string `json:"dashboard_url,omitempty"`
}

// AlertWebsite names the website. URL never carries userinfo.
type AlertWebsite struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// AlertCheck is the check that confirmed a region's transition.
type AlertCheck struct {
	Region     string          `json:"region"`
	At         time.Time       `json:"at"`
	Outcome    monitor.Outcome `json:"outcome"`
	Reason     string          `json:"reason,omitempty"`
	Message    string          `json:"message,omitempty"`
	StatusCode int             `json:"status_code,omitempty"`
	ResponseMS int64           `json:"response_ms"`
}

// DisplayURL returns rawURL without its userinfo, so that credentials in a monitored URL
// (https://user:pass@host/) never reach an inbox, a webhook receiver or a log.
func DisplayURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(invalid url)"
	}
	u.User = nil
	return u.String()
}

// CauseText is a short human description of a cause, for subjects and summaries.
func CauseText(c monitor.Cause) string {
	switch {
	case c.Message != "":
		return c.Message
	case c.StatusCode != 0:
		return fmt.Sprintf("HTTP %d", c.StatusCode)
	case c.Reason != "":
		return string(c.Outcome) + " (" + c.Reason + ")"
	case c.Outcome != "":
		return string(c.Outcome)
	}
	return "unknown cause"
}

// FormatDuration renders a duration to the second for people: "4m 12s", "2h 0m 5s", "3d 1h 0m".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	days, s := s/86400, s%86400
	h, s := s/3600, s%3600
	m, s := s/60, s%60
	var parts []string
	switch {
	case days > 0:
		parts = []string{fmt.Sprintf("%dd", days), fmt.Sprintf("%dh", h), fmt.Sprintf("%dm", m)}
	case h > 0:
		parts = []string{fmt.Sprintf("%dh", h), fmt.Sprintf("%dm", m), fmt.Sprintf("%ds", s)}
	case m > 0:
		parts = []string{fmt.Sprintf("%dm", m), fmt.Sprintf("%ds", s)}
	default:
		parts = []string{fmt.Sprintf("%ds", s)}
	}
	return strings.Join(parts, " ")
}

// OneLine folds every run of white space, line breaks included, into one space: user text
// (a website's name, a check's message) that goes into a subject or a one-line summary.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TimeLayout is how a message writes an instant.
const TimeLayout = "2006-01-02 15:04:05 UTC"
