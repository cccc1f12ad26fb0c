package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/status"
	"github.com/vigil-monitor/vigil/pkg/web"
)

// The dashboard (pkg/web) is mounted from the route table like every other route. Its pages
// have the session policy; its scripts call the REST API with the session cookie, which
// requireAPIKey accepts through sessionAuth when a request has no Bearer key.

var errCSRF = &Error{Status: http.StatusForbidden, Code: "csrf",
	Message: "a state-changing request with the session cookie needs the session's token in " + web.CSRFHeader}

// newUI builds the dashboard on the API's PostgreSQL adapter and the status views it shares
// with the API.
func newUI(p Params, views *status.Views) (*web.UI, error) {
	return web.New(web.Params{DB: p.DB, Logger: p.Logger, Views: views})
}

// sessionAuth authenticates a request that has no Bearer key by its dashboard session cookie.
// State-changing methods must also carry the session's CSRF token.
func (s *Server) sessionAuth(c echo.Context, next echo.HandlerFunc) error {
	keyID, err := web.NewSessions(s.db.Sessions()).Authenticate(c.Request())
	switch {
	case errors.Is(err, web.ErrNoSession):
		return s.unauthorized(c)
	case errors.Is(err, web.ErrCSRF):
		return errCSRF
	case err != nil:
		return err
	}
	c.Set(ctxAPIKeyID, keyID)
	return next(c)
}
