package web

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// formatPct renders an uptime percentage with as many decimals as it needs to be honest:
// 99.999% must not show as 100%.
func formatPct(p *float64) string {
	if p == nil {
		return "–"
	}
	v := *p
	switch {
	case v >= 100:
		return "100%"
	case v >= 99.99:
		return fmt.Sprintf("%.3f%%", math.Floor(v*1000)/1000)
	case v >= 10:
		return fmt.Sprintf("%.2f%%", math.Floor(v*100)/100)
	default:
		return fmt.Sprintf("%.1f%%", v)
	}
}

func formatMS(v *float64) string {
	if v == nil {
		return "–"
	}
	if *v >= 1000 {
		return fmt.Sprintf("%.2f s", *v/1000)
	}
	return fmt.Sprintf("%.0f ms", *v)
}

// formatDuration renders a duration in its two largest units: "3d 4h", "12m 5s".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	hours, s := s/3600, s%3600
	mins, secs := s/60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case mins > 0:
		return fmt.Sprintf("%dm %ds", mins, secs)
	default:
		return fmt.Sprintf("%ds", secs)
	}
}

func formatAgo(now time.Time, t *time.Time) string {
	if t == nil {
		return "never"
	}
	return formatDuration(now.Sub(*t)) + " ago"
}

// stateLabel is the text that goes with a state's color: never color alone.
func stateLabel(state string) string {
	switch state {
	case postgres.OverviewUp:
		return "Up"
	case postgres.OverviewDown:
		return "Down"
	case postgres.OverviewDegraded:
		return "Degraded"
	case postgres.OverviewPaused:
		return "Paused"
	default:
		return "Unknown"
	}
}
