package httpapi

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/web"
)

// TestEveryRouteHasAPolicy (routes_test.go) walks echo's own route list; these cases make sure
// that a route cannot get in without a policy through the table either.
func TestRouteWithoutPolicyRefused(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	err := a.srv.register([]route{{http.MethodGet, "/new", func(echo.Context) error { return nil }, 0}})
	require.ErrorContains(t, err, "no access policy")
	err = a.srv.register([]route{{http.MethodGet, "/new", func(echo.Context) error { return nil }, access(99)}})
	require.ErrorContains(t, err, "no access policy")
}

// There is no authentication cache: a revoked key fails on the very next request, whether it
// arrives as a Bearer key or as a dashboard session opened with it, even while other requests
// with the key are in flight.
func TestRevokedKeyStopsAtOnce(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	ctx := context.Background()
	keys := postgres.NewAPIKeyStore(a.pool)
	k, plain, err := keys.Create(ctx, "to revoke")
	require.NoError(t, err)
	sess, err := postgres.NewSessionStore(a.pool).Create(ctx, k.ID, time.Hour)
	require.NoError(t, err)
	withCookie := func(path string) int {
		req, err := http.NewRequest(http.MethodGet, a.http.URL+path, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: sess.Token})
		c := *a.client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, a.doKey("GET", "/websites", "", plain).Status)
	require.Equal(t, http.StatusOK, withCookie("/websites"))
	require.Equal(t, http.StatusOK, withCookie("/dashboard"))

	// Keep the key busy while it is revoked.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					a.doKey("GET", "/regions", "", plain)
				}
			}
		})
	}
	require.NoError(t, keys.Revoke(ctx, k.ID))
	require.Equal(t, http.StatusUnauthorized, a.doKey("GET", "/websites", "", plain).Status)
	require.Equal(t, http.StatusUnauthorized, withCookie("/websites"))
	require.Equal(t, http.StatusSeeOther, withCookie("/dashboard"), "the dashboard sends a revoked session to the login form")
	close(stop)
	wg.Wait()
	require.Equal(t, http.StatusOK, a.do("GET", "/websites", "").Status, "other keys are unaffected")
}

// A key is accepted only in the Authorization header: never from the query string (where it
// would land in access logs and browser history), a cookie of another name or another header.
func TestKeyOnlyInAuthorizationHeader(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	for name, mutate := range map[string]func(*http.Request){
		"query api_key":      func(r *http.Request) { r.URL.RawQuery = "api_key=" + a.key },
		"query access_token": func(r *http.Request) { r.URL.RawQuery = "access_token=" + a.key },
		"X-API-Key":          func(r *http.Request) { r.Header.Set("X-API-Key", a.key) },
		"cookie":             func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "api_key", Value: a.key}) },
		"session cookie":     func(r *http.Request) { r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: a.key}) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, a.http.URL+"/websites", nil)
			require.NoError(t, err)
			mutate(req)
			resp, err := a.client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
}
