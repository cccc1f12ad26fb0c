package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
)

// newViews builds the status read model that the monitoring routes and the dashboard share.
func newViews(db *postgres.DB, p Params) *status.Views {
	return status.New(status.Params{
		Checks:       p.Checks,
		LastChecks:   p.LastChecks,
		States:       db.Overview(),
		Downtimes:    db.Downtimes(),
		CacheTTL:     p.CacheTTL,
		CacheEntries: p.CacheEntries,
		Logger:       p.Logger,
		// Params.Now is the rate limiter's clock; the views keep time.Now.
	})
}

var errNoChecks = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the time-series store is not configured"}

// needChecks is the 503 of an API started without InfluxDB.
func (s *Server) needChecks() error {
	if !s.views.HasChecks() {
		return errNoChecks
	}
	return nil
}

// listMonitor handles GET /monitor?limit=&cursor=&q=: every website, a page at a time, in the
// order of GET /websites, with its latest checks.
func (s *Server) listMonitor(c echo.Context) error {
	return listPage(c, websiteViews(s, s.views.Monitor))
}

// websiteViews lists a page of websites, in the order of GET /websites, and turns it into
// view's items; without InfluxDB it answers 503 (after the list parameters have had their say).
func websiteViews[T any](s *Server, view func(context.Context, []postgres.Website) ([]T, error)) listFunc[T] {
	return func(ctx context.Context, p postgres.ListParams) ([]T, *postgres.Cursor, error) {
		if err := s.needChecks(); err != nil {
			return nil, nil, err
		}
		sites, next, err := s.websites.List(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		items, err := view(ctx, sites)
		return items, next, err
	}
}

// rangeHead starts the answer of every route about a website over the last days: which website,
// how many days, and the region asked for (null for all regions).
type rangeHead struct {
	WebsiteID string  `json:"website_id"`
	Days      int     `json:"days"`
	Region    *string `json:"region"`
}

func newRangeHead(websiteID string, days int, region string) rangeHead {
	h := rangeHead{WebsiteID: websiteID, Days: days}
	if region != "" {
		h.Region = &region
	}
	return h
}

// rangeQuery is what GET /monitor/:id and /monitor/:id/breakdown read from their request.
type rangeQuery struct {
	website postgres.Website
	days    int
	region  string
}

// rangeQuery finds the reader (503 without one), the website (404) and the range (422).
func (s *Server) rangeQuery(c echo.Context) (rangeQuery, error) {
	if err := s.needChecks(); err != nil {
		return rangeQuery{}, err
	}
	w, err := s.websites.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return rangeQuery{}, err
	}
	days, region, err := seriesParams(c, w)
	if err != nil {
		return rangeQuery{}, err
	}
	return rangeQuery{website: w, days: days, region: region}, nil
}

// seriesParams reads ?days= (default 1, 1..365) and ?region= (optional; one of the website's
// regions), answering 422 on the one at fault.
func seriesParams(c echo.Context, w postgres.Website) (days int, region string, err error) {
	known := func(r string) bool { return influxdb.ValidRegion(r) && slices.Contains(w.Regions, r) }
	return rangeParams(c, known, "is not one of the website's regions")
}

// rangeParams reads ?days= (default 1, 1..365) and ?region= (optional; refused with unknown
// when known says no), answering 422 on the one at fault.
func rangeParams(c echo.Context, known func(region string) bool, unknown string) (days int, region string, err error) {
	f := fieldErrors{}
	days = 1
	if raw := c.QueryParam("days"); raw != "" {
		n, perr := strconv.Atoi(raw)
		if perr != nil || !influxdb.ValidDays(n) {
			f.add("days", fmt.Sprintf("must be an integer between 1 and %d", influxdb.MaxDays))
		}
		days = n
	}
	region = c.QueryParam("region")
	if region != "" && !known(region) {
		f.add("region", unknown)
	}
	return days, region, f.err()
}

// seriesResponse is GET /monitor/:id.
type seriesResponse struct {
	rangeHead
	Start         time.Time               `json:"start"`
	Stop          time.Time               `json:"stop"`
	WindowSeconds int64                   `json:"window_seconds"`
	Series        []influxdb.RegionSeries `json:"series"`
	Percentiles   *influxdb.Percentiles   `json:"percentiles"`
}

// getMonitor handles GET /monitor/:id?days=&region=: the response-time series of the last days.
func (s *Server) getMonitor(c echo.Context) error {
	q, err := s.rangeQuery(c)
	if err != nil {
		return err
	}
	ctx, w, days, region := c.Request().Context(), q.website, q.days, q.region
	rt, err := s.views.ResponseTimes(ctx, w.ID, region, days)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, seriesResponse{rangeHead: newRangeHead(w.ID, days, region),
		Start: rt.Start.UTC(), Stop: rt.Stop.UTC(), WindowSeconds: int64(rt.Window / time.Second),
		Series: rt.Series, Percentiles: rt.Percentiles})
}

// breakdownResponse is GET /monitor/:id/breakdown.
type breakdownResponse struct {
	rangeHead
	influxdb.Breakdown
}

// getBreakdown handles GET /monitor/:id/breakdown?days=&region=: the checks of the last days
// by status code, and the mean of each phase.
func (s *Server) getBreakdown(c echo.Context) error {
	q, err := s.rangeQuery(c)
	if err != nil {
		return err
	}
	ctx, w, days, region := c.Request().Context(), q.website, q.days, q.region
	b, err := s.views.Breakdown(ctx, w.ID, region, days)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, breakdownResponse{rangeHead: newRangeHead(w.ID, days, region), Breakdown: b})
}

// uptimeResponse is GET /monitor/:id/uptime.
type uptimeResponse struct {
	WebsiteID string                         `json:"website_id"`
	Periods   map[string]status.PeriodUptime `json:"periods"`
}

// getUptime handles GET /monitor/:id/uptime: uptime over 24h, 7d, 30d and all time.
func (s *Server) getUptime(c echo.Context) error {
	if err := s.needChecks(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	w, err := s.websites.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	periods, err := s.views.UptimePeriods(ctx, w)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, uptimeResponse{WebsiteID: w.ID, Periods: periods})
}

// apiStatus handles GET /api/status?limit=&cursor=&q=: for every website, a page at a time, its
// current status, uptime, latest response and check counts.
func (s *Server) apiStatus(c echo.Context) error {
	return listPage(c, websiteViews(s, s.views.Summaries))
}
