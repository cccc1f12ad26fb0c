package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// The downtime, incident and notification routes (listed in routes.go). The notifier writes
// what they read; the handlers build their stores from the pool per request (a store is a
// pointer and a clock).

// downtimeParams reads ?days= (default 1, 1..365) and ?region= (optional; any region name, so
// that the periods of a region the website no longer uses stay reachable).
func downtimeParams(c echo.Context) (days int, region string, err error) {
	f := fieldErrors{}
	days = 1
	if raw := c.QueryParam("days"); raw != "" {
		n, convErr := strconv.Atoi(raw)
		if convErr != nil || n < 1 || n > influxdb.MaxDays {
			f.add("days", fmt.Sprintf("must be an integer between 1 and %d", influxdb.MaxDays))
		}
		days = n
	}
	region = c.QueryParam("region")
	if region != "" && !influxdb.ValidRegion(region) {
		f.add("region", "is not a region name")
	}
	return days, region, f.err()
}

// downtimeResponse is GET /monitor/:id/downtime: the regional downtime periods that overlap
// the last days, the earliest first. A period still open has ended_at null and its duration
// counts to "to".
type downtimeResponse struct {
	WebsiteID string              `json:"website_id"`
	Days      int                 `json:"days"`
	Region    *string             `json:"region"`
	From      time.Time           `json:"from"`
	To        time.Time           `json:"to"`
	Downtimes []postgres.Downtime `json:"downtimes"`
}

func (s *Server) downtimeFilter(c echo.Context) (postgres.DowntimeFilter, int, error) {
	ctx := c.Request().Context()
	w, err := s.websites.Get(ctx, c.Param("id"))
	if err != nil {
		return postgres.DowntimeFilter{}, 0, err
	}
	days, region, err := downtimeParams(c)
	if err != nil {
		return postgres.DowntimeFilter{}, 0, err
	}
	to := time.Now().UTC()
	return postgres.DowntimeFilter{WebsiteID: w.ID, Region: region, From: to.Add(-time.Duration(days) * influxdb.Day), To: to}, days, nil
}

// getDowntimes handles GET /monitor/:id/downtime?days=&region=.
func (s *Server) getDowntimes(c echo.Context) error {
	f, days, err := s.downtimeFilter(c)
	if err != nil {
		return err
	}
	ds, err := postgres.NewDowntimeStore(s.pool).List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := downtimeResponse{WebsiteID: f.WebsiteID, Days: days, From: f.From, To: f.To, Downtimes: utcDowntimes(ds)}
	if f.Region != "" {
		out.Region = &f.Region
	}
	return c.JSON(http.StatusOK, out)
}

// getLastDowntime handles GET /monitor/:id/last_downtime?days=&region=: the most recent period
// in the range, or JSON null when there is none.
func (s *Server) getLastDowntime(c echo.Context) error {
	f, _, err := s.downtimeFilter(c)
	if err != nil {
		return err
	}
	d, err := postgres.NewDowntimeStore(s.pool).Latest(c.Request().Context(), f)
	if errors.Is(err, monitor.ErrNotFound) {
		return c.JSON(http.StatusOK, nil)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, utcDowntimes([]postgres.Downtime{d})[0])
}

func utcDowntimes(ds []postgres.Downtime) []postgres.Downtime {
	out := make([]postgres.Downtime, len(ds))
	for i, d := range ds {
		d.StartedAt = d.StartedAt.UTC()
		if d.EndedAt != nil {
			d.EndedAt = ptr(d.EndedAt.UTC())
		}
		out[i] = d
	}
	return out
}

// listIncidents handles GET /incidents?state=open|resolved&website_id=&limit=&cursor=: the
// most recent first.
func (s *Server) listIncidents(c echo.Context) error {
	p, err := listParams(c)
	if err != nil {
		return err
	}
	f := postgres.IncidentFilter{State: c.QueryParam("state"), WebsiteID: c.QueryParam("website_id")}
	if f.State != "" && f.State != postgres.IncidentsOpen && f.State != postgres.IncidentsResolved {
		return invalidField("state", "must be open or resolved")
	}
	incs, next, err := postgres.NewIncidentStore(s.pool).List(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	for i := range incs {
		incs[i] = utcIncident(incs[i])
	}
	return c.JSON(http.StatusOK, newListResponse(incs, next))
}

// incidentResponse is GET /incidents/:id: the incident and the regional periods behind it.
type incidentResponse struct {
	postgres.Incident
	Downtimes []postgres.Downtime `json:"downtimes"`
}

// getIncident handles GET /incidents/:id.
func (s *Server) getIncident(c echo.Context) error {
	inc, ds, err := postgres.NewIncidentStore(s.pool).Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, incidentResponse{Incident: utcIncident(inc), Downtimes: utcDowntimes(ds)})
}

func utcIncident(i postgres.Incident) postgres.Incident {
	i.StartedAt = i.StartedAt.UTC()
	if i.EndedAt != nil {
		i.EndedAt = ptr(i.EndedAt.UTC())
	}
	return i
}

// listNotifications handles GET /notifications?state=&incident_id=&limit=&cursor=: outbox rows,
// the most recent first. state=given_up lists the notifications that were never delivered.
func (s *Server) listNotifications(c echo.Context) error {
	p, err := listParams(c)
	if err != nil {
		return err
	}
	f := postgres.NotificationFilter{State: c.QueryParam("state"), IncidentID: c.QueryParam("incident_id")}
	switch f.State {
	case "", postgres.NotificationPending, postgres.NotificationSending, postgres.NotificationSent, postgres.NotificationGivenUp:
	default:
		return invalidField("state", "must be pending, sending, sent or given_up")
	}
	ns, next, err := postgres.NewOutboxStore(s.pool).List(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newListResponse(ns, next))
}

func ptr[T any](v T) *T { return &v }
