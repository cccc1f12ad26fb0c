package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
)

// The downtime, incident and notification routes (listed in routes.go). The notifier writes
// what they read. The downtime routes read the status views; the incident and notification
// handlers build their stores from the pool per request (a store is a pointer and a clock).

// downtimeParams reads ?days= (default 1, 1..365) and ?region= (optional; any region name, so
// that the periods of a region the website no longer uses stay reachable).
func downtimeParams(c echo.Context) (days int, region string, err error) {
	return rangeParams(c, influxdb.ValidRegion, "is not a region name")
}

// downtimeResponse is GET /monitor/:id/downtime: the regional downtime periods that overlap
// the last days, the earliest first. A period still open has ended_at null and its duration
// counts to "to".
type downtimeResponse struct {
	rangeHead
	From      time.Time           `json:"from"`
	To        time.Time           `json:"to"`
	Downtimes []postgres.Downtime `json:"downtimes"`
}

// downtimeQuery finds the website (404) and reads the range (422) of the downtime routes.
func (s *Server) downtimeQuery(c echo.Context) (websiteID string, days int, region string, err error) {
	w, err := s.websites.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return "", 0, "", err
	}
	days, region, err = downtimeParams(c)
	return w.ID, days, region, err
}

// getDowntimes handles GET /monitor/:id/downtime?days=&region=.
func (s *Server) getDowntimes(c echo.Context) error {
	id, days, region, err := s.downtimeQuery(c)
	if err != nil {
		return err
	}
	r, err := s.views.Downtimes(c.Request().Context(), id, region, days)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, downtimeResponse{rangeHead: newRangeHead(id, days, region),
		From: r.From, To: r.To, Downtimes: r.Downtimes})
}

// getLastDowntime handles GET /monitor/:id/last_downtime?days=&region=: the most recent period
// in the range, or JSON null when there is none.
func (s *Server) getLastDowntime(c echo.Context) error {
	id, days, region, err := s.downtimeQuery(c)
	if err != nil {
		return err
	}
	d, err := s.views.LastDowntime(c.Request().Context(), id, region, days)
	if errors.Is(err, monitor.ErrNotFound) {
		return c.JSON(http.StatusOK, nil)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
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
	incs, next, err := s.db.Incidents().List(c.Request().Context(), f, p)
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
	monitor.Incident
	Downtimes []postgres.Downtime `json:"downtimes"`
}

// getIncident handles GET /incidents/:id.
func (s *Server) getIncident(c echo.Context) error {
	inc, ds, err := s.db.Incidents().Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, incidentResponse{Incident: utcIncident(inc), Downtimes: status.UTCDowntimes(ds)})
}

func utcIncident(i monitor.Incident) monitor.Incident {
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
	case "", monitor.NotificationPending, monitor.NotificationSending, monitor.NotificationSent, monitor.NotificationGivenUp:
	default:
		return invalidField("state", "must be pending, sending, sent or given_up")
	}
	ns, next, err := s.db.Outbox().List(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newListResponse(ns, next))
}

func ptr[T any](v T) *T { return &v }
