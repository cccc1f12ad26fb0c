package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"sort"
	"sync"

	"github.com/labstack/echo/v4"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// healthz answers while the process serves requests; it checks nothing else, so that an
// orchestrator does not restart the API because a store is down.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the body of /readyz.
type readiness struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks"` // store -> "ok" or "unavailable"
	// Failing names the stores that did not answer, for a person reading a probe's log.
	Failing []string `json:"failing,omitempty"`
}

// readyz answers 200 when PostgreSQL, Redis and InfluxDB all answer within the ready timeout,
// and 503 naming the ones that did not. Errors are logged, not shown: the route is public.
func (s *Server) readyz(c echo.Context) error {
	checks := map[string]func(context.Context) error{
		"postgres": s.db.Ping,
	}
	if s.redis != nil {
		checks["redis"] = s.redis
	}
	if s.influx != nil {
		checks["influxdb"] = func(ctx context.Context) error {
			ok, err := s.influx.Ping(ctx)
			if err == nil && !ok {
				err = errors.New("ping answered not ok")
			}
			return err
		}
	}
	out := readiness{Status: "ok", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(c.Request().Context(), s.readyTimeout)
			defer cancel()
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.Warn("httpapi: not ready", "store", name, "err", err)
				out.Checks[name] = "unavailable"
				out.Failing = append(out.Failing, name)
				return
			}
			out.Checks[name] = "ok"
		})
	}
	wg.Wait()
	if len(out.Failing) > 0 {
		sort.Strings(out.Failing)
		out.Status = "unavailable"
		return c.JSON(http.StatusServiceUnavailable, out)
	}
	return c.JSON(http.StatusOK, out)
}

// openAPI serves the API's OpenAPI 3 description.
func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openAPIDoc)
}
