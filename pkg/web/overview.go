package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
)

// PageSize is how many websites one overview page lists.
const PageSize = 50

// maxPage bounds ?page=, so that a crafted URL cannot ask PostgreSQL to skip a billion rows.
const maxPage = 100000

type stateFilter struct {
	Value  string
	Label  string
	Count  int
	Active bool
	URL    string
}

type overviewItem struct {
	postgres.OverviewRow
	M *uptimeBar
}

type overviewData struct {
	Query        string
	State        string
	Filters      []stateFilter
	Rows         []overviewItem
	Page, Pages  int
	Total        int
	PrevURL      string
	NextURL      string
	MetricsError bool
	LiveURL      string
}

// overviewQuery is the overview's URL state: search, state filter and page.
type overviewQuery struct {
	Q     string
	State string
	Page  int
}

func (q overviewQuery) url(base string, partial bool) string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if partial {
		v.Set("partial", "1")
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

func readOverviewQuery(c echo.Context) overviewQuery {
	q := overviewQuery{Q: c.QueryParam("q"), State: c.QueryParam("state"), Page: 1}
	if utf8.RuneCountInString(q.Q) > 200 || !utf8.ValidString(q.Q) {
		q.Q = ""
	}
	if !slices.Contains(postgres.OverviewStates, q.State) {
		q.State = ""
	}
	if n, err := strconv.Atoi(c.QueryParam("page")); err == nil && n >= 1 && n <= maxPage {
		q.Page = n
	}
	return q
}

// Overview is the dashboard's home: every website with its state, numbers and uptime bar,
// searched, filtered by state and paged on the server. With ?partial=1 it renders only the
// live part, which overview.js fetches every 10 seconds.
func (ui *UI) Overview(c echo.Context) error {
	return ui.page(ui.overview1)(c)
}

func (ui *UI) overview1(c echo.Context, sess postgres.Session) error {
	data, err := ui.overviewData(c.Request().Context(), readOverviewQuery(c))
	if err != nil {
		return err
	}
	return ui.render(c, http.StatusOK, "overview", view{
		Title: "Overview", Nav: "overview", CSRF: sess.CSRFToken,
		Scripts: []string{"app.js", "overview.js"}, Data: data,
	})
}

func (ui *UI) overviewData(ctx context.Context, q overviewQuery) (overviewData, error) {
	page, err := ui.overview.Page(ctx, postgres.OverviewParams{
		Query: q.Q, State: q.State, Limit: PageSize, Offset: (q.Page - 1) * PageSize,
	})
	if err != nil {
		return overviewData{}, err
	}
	d := overviewData{Query: q.Q, State: q.State, Page: q.Page, Total: page.Total}
	d.Pages = max(1, (page.Total+PageSize-1)/PageSize)
	all := 0
	for _, st := range postgres.OverviewStates {
		all += page.Counts[st]
	}
	d.Filters = append(d.Filters, stateFilter{Value: "", Label: "All", Count: all, Active: q.State == "",
		URL: overviewQuery{Q: q.Q}.url("/dashboard", false)})
	for _, st := range postgres.OverviewStates {
		d.Filters = append(d.Filters, stateFilter{Value: st, Label: stateLabel(st), Count: page.Counts[st],
			Active: q.State == st, URL: overviewQuery{Q: q.Q, State: st}.url("/dashboard", false)})
	}
	if q.Page > 1 {
		prev := q
		prev.Page--
		d.PrevURL = prev.url("/dashboard", false)
	}
	if q.Page < d.Pages {
		next := q
		next.Page++
		d.NextURL = next.url("/dashboard", false)
	}
	d.LiveURL = q.url("/dashboard", true)

	sites := make([]status.Site, len(page.Rows))
	for i, r := range page.Rows {
		sites[i] = status.Site{ID: r.ID, Interval: time.Duration(r.IntervalSeconds) * time.Second}
	}
	mctx, cancel := ui.withTimeout(ctx)
	defer cancel()
	bars, err := ui.views.UptimeBars(mctx, sites, true)
	if err != nil {
		ui.log.Warn("web: overview metrics", "err", err)
		d.MetricsError = true
	}
	for _, r := range page.Rows {
		item := overviewItem{OverviewRow: r}
		if bars != nil {
			item.M = newUptimeBar(bars[r.ID])
		}
		d.Rows = append(d.Rows, item)
	}
	return d, nil
}
