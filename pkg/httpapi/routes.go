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
	// apiKey routes need Authorization: Bearer <key>.
	apiKey
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
	}
}
