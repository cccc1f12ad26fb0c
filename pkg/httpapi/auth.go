package httpapi

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// ctxAPIKeyID is where requireAPIKey leaves the id of the key that authenticated the request.
const ctxAPIKeyID = "api_key_id"

// requireAPIKey lets a request through only with a live API key in
// "Authorization: Bearer <key>". The key is hashed and looked up; it is never logged.
func (s *Server) requireAPIKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, ok := bearer(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return s.sessionAuth(c, next) // the dashboard's cookie, or 401 (dashboard.go)
		}
		k, err := s.keys.Authenticate(c.Request().Context(), key)
		if errors.Is(err, monitor.ErrNotFound) {
			return s.unauthorized(c)
		}
		if err != nil {
			return err
		}
		c.Set(ctxAPIKeyID, k.ID)
		return next(c)
	}
}

func (s *Server) unauthorized(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="vigil"`)
	return errUnauthorized
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && len(token) <= 512
}
