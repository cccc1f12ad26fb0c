package web

import (
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/pkg/status"
)

// uptimeBar is a website's uptime bar as the pages draw it: the read model's numbers, and each
// day of the bar as a cell with its color and tooltip.
type uptimeBar struct {
	*status.UptimeBar
	Cells []dayCell
}

// newUptimeBar draws b; nil stays nil (a page without numbers).
func newUptimeBar(b *status.UptimeBar) *uptimeBar {
	if b == nil {
		return nil
	}
	return &uptimeBar{UptimeBar: b, Cells: cells(b.Days)}
}

// dayCell is one day of an uptime bar as drawn.
type dayCell struct {
	status.Day
	Class string
	Title string
}

// cellClass colors a day: green from 99.9%, amber below, red below 99% or with more than a
// few minutes of incident time, grey without data.
func cellClass(uptime *float64, downtime int64) string {
	switch {
	case uptime == nil && downtime == 0:
		return "none"
	case downtime > 15*60 || (uptime != nil && *uptime < 99):
		return "down"
	case downtime > 0 || (uptime != nil && *uptime < 99.9):
		return "degraded"
	default:
		return "up"
	}
}

// cells gives each day its class and its tooltip.
func cells(days []status.Day) []dayCell {
	out := make([]dayCell, len(days))
	for i, d := range days {
		c := dayCell{Day: d, Class: cellClass(d.Uptime, d.Downtime)}
		title := c.Date.Format("Jan 2") + ": "
		if c.Uptime == nil {
			title += "no data"
		} else {
			title += formatPct(c.Uptime) + " uptime"
		}
		if c.Downtime > 0 {
			title += ", " + formatDuration(time.Duration(c.Downtime)*time.Second) + " down"
		} else if c.Uptime != nil {
			title += ", no downtime"
		}
		c.Title = title
		out[i] = c
	}
	return out
}

// barCells renders the cells of an uptime bar. It is the hot spot of the overview (50 rows of
// 90 cells), so it writes the markup directly instead of through template actions; the only
// text is the title, which is escaped here, and the class comes from cellClass's fixed set.
func barCells(days []dayCell) template.HTML {
	var b strings.Builder
	b.Grow(len(days) * 64)
	for _, d := range days {
		b.WriteString(`<span class="d `)
		b.WriteString(d.Class)
		b.WriteString(`" title="`)
		b.WriteString(html.EscapeString(d.Title))
		b.WriteString(`"></span>`)
	}
	return template.HTML(b.String()) //nolint:gosec // escaped above
}
