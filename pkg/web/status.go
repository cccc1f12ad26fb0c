package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
)

// statusMaxAge is how long browsers and proxies may cache a status page. A page that many
// people reload during an outage then costs the database little, and is at most this stale.
const statusMaxAge = "public, max-age=30"

// statusIncidents bounds the incident history of a status page.
const statusIncidents = 50

// PublicStatus is a status page as the public sees it, in HTML and at /status/{slug}.json. It
// holds only what the page shows: names, states, uptime and incident times; a URL only when
// the page opts in; never ids, regions or the failing responses' messages.
type PublicStatus struct {
	Title       string           `json:"title"`
	Description string           `json:"description"`
	State       string           `json:"state"`
	StateText   string           `json:"state_text"`
	UpdatedAt   time.Time        `json:"updated_at"`
	Groups      []PublicGroup    `json:"groups"`
	Incidents   []PublicIncident `json:"incidents"`
}

// PublicGroup is a section of a status page.
type PublicGroup struct {
	Name     string          `json:"name"`
	Websites []PublicWebsite `json:"websites"`
}

// PublicWebsite is one website on a status page.
type PublicWebsite struct {
	Name      string      `json:"name"`
	URL       string      `json:"url,omitempty"`
	State     string      `json:"state"`
	Uptime90d *float64    `json:"uptime_90d"`
	Days      []PublicDay `json:"days"`
}

// PublicDay is one day of a website's uptime bar.
type PublicDay struct {
	Date            string   `json:"date"` // YYYY-MM-DD, UTC
	Uptime          *float64 `json:"uptime"`
	DowntimeSeconds int64    `json:"downtime_seconds"`
	class, title    string
}

// Class and Title are for the template.
func (d PublicDay) Class() string { return d.class }

// Title is the day's tooltip.
func (d PublicDay) Title() string { return d.title }

// PublicIncident is an incident of one of the page's websites.
type PublicIncident struct {
	Website   string     `json:"website"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Duration  string     `json:"duration"`
	Cause     string     `json:"cause"`
}

// StatusPage serves /status/{slug} as HTML and /status/{slug}.json as JSON, to anyone.
func (ui *UI) StatusPage(c echo.Context) error {
	slug := c.Param("slug")
	asJSON := strings.HasSuffix(slug, ".json")
	slug = strings.TrimSuffix(slug, ".json")
	ctx := c.Request().Context()
	page, err := ui.statusPages.GetBySlug(ctx, slug)
	if errors.Is(err, monitor.ErrNotFound) {
		if asJSON {
			return echo.NewHTTPError(http.StatusNotFound, "no such status page")
		}
		return ui.render(c, http.StatusNotFound, "status_missing", view{Title: "Not found", Public: true})
	}
	if err != nil {
		return err
	}
	st, err := ui.publicStatus(ctx, page)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", statusMaxAge)
	if asJSON {
		setSecurityHeaders(h)
		h.Set("Access-Control-Allow-Origin", "*") // public data, for embedders and bots
		return c.JSON(http.StatusOK, st)
	}
	return ui.render(c, http.StatusOK, "status", view{
		Title: page.Title, Public: true, Scripts: []string{"status.js"}, Data: st,
	})
}

func (ui *UI) publicStatus(ctx context.Context, page postgres.StatusPage) (PublicStatus, error) {
	ids := page.WebsiteIDs()
	rows, err := ui.overview.Rows(ctx, ids)
	if err != nil {
		return PublicStatus{}, err
	}
	byID := map[string]postgres.OverviewRow{}
	sites := make([]status.Site, 0, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
		sites = append(sites, status.Site{ID: r.ID})
	}
	mctx, cancel := ui.withTimeout(ctx)
	defer cancel()
	bars, err := ui.views.UptimeBars(mctx, sites, false)
	if err != nil {
		ui.log.Warn("web: status page metrics", "slug", page.Slug, "err", err)
		bars = nil
	}

	now := ui.now()
	st := PublicStatus{Title: page.Title, Description: page.Description, UpdatedAt: now.UTC().Truncate(time.Second),
		Groups: []PublicGroup{}, Incidents: []PublicIncident{}}
	worst := ""
	rank := map[string]int{postgres.OverviewUp: 1, postgres.OverviewUnknown: 2, postgres.OverviewDegraded: 3, postgres.OverviewDown: 4}
	for _, g := range page.Groups {
		pg := PublicGroup{Name: g.Name, Websites: []PublicWebsite{}}
		for _, id := range g.WebsiteIDs {
			r, ok := byID[id]
			if !ok {
				continue
			}
			w := PublicWebsite{Name: r.Name, State: r.State, Days: []PublicDay{}}
			if page.ShowURLs {
				w.URL = r.URL
			}
			if b := bars[id]; b != nil {
				w.Uptime90d = b.Uptime90d
				for _, d := range cells(b.Days) {
					w.Days = append(w.Days, PublicDay{Date: d.Date.Format(time.DateOnly), Uptime: d.Uptime,
						DowntimeSeconds: d.Downtime, class: d.Class, title: d.Title})
				}
			}
			if rank[r.State] > rank[worst] {
				worst = r.State
			}
			pg.Websites = append(pg.Websites, w)
		}
		st.Groups = append(st.Groups, pg)
	}
	st.State, st.StateText = overallState(worst)

	incidents, err := ui.overview.RecentIncidents(ctx, ids, now.Add(-status.BarDays*influxdb.Day), statusIncidents)
	if err != nil {
		return PublicStatus{}, err
	}
	for _, i := range incidents {
		r, ok := byID[i.WebsiteID]
		if !ok {
			continue
		}
		end := now
		if i.EndedAt != nil {
			end = *i.EndedAt
		}
		st.Incidents = append(st.Incidents, PublicIncident{
			Website: r.Name, StartedAt: i.StartedAt, EndedAt: i.EndedAt,
			Duration: formatDuration(end.Sub(i.StartedAt)), Cause: publicCause(i.Outcome, i.Reason),
		})
	}
	return st, nil
}

// overallState sums up a page by its worst website. Paused websites do not count: their
// owner stopped checking them on purpose.
func overallState(worst string) (string, string) {
	switch worst {
	case postgres.OverviewDown:
		return "down", "Major outage"
	case postgres.OverviewDegraded:
		return "degraded", "Partial outage"
	case postgres.OverviewUnknown:
		return "unknown", "Status unknown"
	case postgres.OverviewUp:
		return "up", "All systems operational"
	default:
		return "unknown", "No checks yet"
	}
}

// publicCause is a short cause that reveals nothing about the site's insides.
func publicCause(outcome, reason string) string {
	switch {
	case outcome == string(monitor.OutcomeTimeout) || reason == "timeout":
		return "Timed out"
	case reason == "status":
		return "Error responses"
	case reason == "keyword":
		return "Unexpected content"
	case reason == "dns":
		return "DNS failure"
	case reason == "tls":
		return "TLS failure"
	case reason == "refused":
		return "Connection refused"
	default:
		return "Unavailable"
	}
}
