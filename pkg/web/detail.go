package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
)

type detailData struct {
	Website postgres.Website
	Row     postgres.OverviewRow
	M       *uptimeBar
}

// Detail is one website's page. The page carries the website and its state; detail.js then
// draws the response-time chart and fills the panels from the REST API (GET /monitor/:id,
// /monitor/:id/downtime, /monitor/:id/breakdown, /incidents).
func (ui *UI) Detail(c echo.Context) error {
	return ui.page(func(c echo.Context, sess postgres.Session) error {
		ctx := c.Request().Context()
		w, err := ui.websites.Get(ctx, c.Param("id"))
		if err != nil {
			return err
		}
		rows, err := ui.overview.Rows(ctx, []string{w.ID})
		if err != nil {
			return err
		}
		d := detailData{Website: w}
		if len(rows) == 1 {
			d.Row = rows[0]
		}
		mctx, cancel := ui.withTimeout(ctx)
		defer cancel()
		bars, err := ui.views.UptimeBars(mctx, []status.Site{{ID: w.ID, Interval: time.Duration(w.IntervalSeconds) * time.Second}}, true)
		if err != nil {
			ui.log.Warn("web: detail metrics", "website_id", w.ID, "err", err)
		} else {
			d.M = newUptimeBar(bars[w.ID])
		}
		return ui.render(c, http.StatusOK, "detail", view{
			Title: w.Name, Nav: "overview", CSRF: sess.CSRFToken,
			Scripts: []string{"vendor/uplot.min.js", "app.js", "detail.js"}, Data: d,
		})
	})(c)
}
