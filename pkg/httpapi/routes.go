package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// access is who may call a route.
type access int

const (
	_ access = iota // the zero value is no policy, which register refuses
	// public routes answer anyone: health, the API description and, later, status pages.
	public
	// apiKey routes need Authorization: Bearer <key>, or the dashboard's session cookie (with
	// its CSRF token on state-changing methods).
	apiKey
	// session routes are the dashboard's pages: without a live session cookie they redirect
	// to the login form.
	session
)

// route is one line of the route table.
type route struct {
	method  string
	path    string
	handler echo.HandlerFunc
	access  access
}

// routes is the whole route table. Every route states its access policy here and nowhere else.
func (s *Server) routes() []route {
	return []route{
		{http.MethodGet, "/healthz", s.healthz, public},
		{http.MethodGet, "/readyz", s.readyz, public},
		{http.MethodGet, "/openapi.yaml", s.openAPI, public},

		{http.MethodPost, "/websites", s.createWebsite, apiKey},
		{http.MethodGet, "/websites", s.listWebsites, apiKey},
		{http.MethodGet, "/websites/:id", s.getWebsite, apiKey},
		{http.MethodPatch, "/websites/:id", s.updateWebsite, apiKey},
		{http.MethodDelete, "/websites/:id", s.deleteWebsite, apiKey},

		{http.MethodPost, "/regions", s.createRegion, apiKey},
		{http.MethodGet, "/regions", s.listRegions, apiKey},
		{http.MethodGet, "/regions/:id", s.getRegion, apiKey},
		{http.MethodPatch, "/regions/:id", s.updateRegion, apiKey},
		{http.MethodDelete, "/regions/:id", s.deleteRegion, apiKey},

		{http.MethodGet, "/monitor", s.listMonitor, apiKey},
		{http.MethodGet, "/monitor/:id", s.getMonitor, apiKey},
		{http.MethodGet, "/monitor/:id/uptime", s.getUptime, apiKey},
		{http.MethodGet, "/monitor/:id/breakdown", s.getBreakdown, apiKey},
		{http.MethodGet, "/api/status", s.apiStatus, apiKey},

		{http.MethodGet, "/monitor/:id/downtime", s.getDowntimes, apiKey},
		{http.MethodGet, "/monitor/:id/last_downtime", s.getLastDowntime, apiKey},
		{http.MethodGet, "/incidents", s.listIncidents, apiKey},
		{http.MethodGet, "/incidents/:id", s.getIncident, apiKey},
		{http.MethodGet, "/notifications", s.listNotifications, apiKey},

		{http.MethodPost, "/status-pages", s.createStatusPage, apiKey},
		{http.MethodGet, "/status-pages", s.listStatusPages, apiKey},
		{http.MethodGet, "/status-pages/:id", s.getStatusPage, apiKey},
		{http.MethodPatch, "/status-pages/:id", s.updateStatusPage, apiKey},
		{http.MethodDelete, "/status-pages/:id", s.deleteStatusPage, apiKey},

		// The public status pages and their JSON twin (/status/{slug}.json), the login form and
		// the embedded assets answer anyone.
		{http.MethodGet, "/status/:slug", s.web.StatusPage, public},
		{http.MethodGet, "/login", s.web.LoginPage, public},
		{http.MethodPost, "/login", s.web.Login, public},
		{http.MethodPost, "/logout", s.web.Logout, public},
		{http.MethodGet, "/static/*", s.web.Static, public},
		{http.MethodGet, "/", s.web.Root, public},

		{http.MethodGet, "/dashboard", s.web.Overview, session},
		{http.MethodGet, "/dashboard/websites/new", s.web.WebsiteNew, session},
		{http.MethodGet, "/dashboard/websites/:id", s.web.Detail, session},
		{http.MethodGet, "/dashboard/websites/:id/edit", s.web.WebsiteEdit, session},
		{http.MethodGet, "/dashboard/regions", s.web.Regions, session},
		{http.MethodGet, "/dashboard/status-pages", s.web.StatusPages, session},
		{http.MethodGet, "/dashboard/status-pages/new", s.web.StatusPageNew, session},
		{http.MethodGet, "/dashboard/status-pages/:id/edit", s.web.StatusPageEdit, session},
	}
}
