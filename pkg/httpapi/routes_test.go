package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// wantPublic is every route that answers without an API key. Adding one is a security
// decision: change this list on purpose.
var wantPublic = map[string]bool{
	"GET /healthz":      true,
	"GET /readyz":       true,
	"GET /openapi.yaml": true,
	"GET /status/:slug": true,
	"GET /login":        true,
	"POST /login":       true,
	"POST /logout":      true,
	"GET /static/*":     true,
	"GET /":             true,
}

var pathParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// concretePath fills a route's parameters with a UUID that names nothing.
func concretePath(p string) string {
	return pathParam.ReplaceAllString(p, "00000000-0000-0000-0000-000000000000")
}

// TestEveryRouteHasAPolicy walks echo's routes: each is in the route table, anonymous callers
// get 401 on every route that is not public, and the public ones are exactly wantPublic.
func TestEveryRouteHasAPolicy(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	policy := map[string]access{}
	for _, r := range a.srv.table {
		policy[r.method+" "+r.path] = r.access
	}
	routes := a.srv.Routes()
	require.NotEmpty(t, routes)
	gotPublic := map[string]bool{}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		t.Run(key, func(t *testing.T) {
			acc, ok := policy[key]
			require.True(t, ok, "route %s was registered outside the route table", key)
			body := ""
			if r.Method == http.MethodPost || r.Method == http.MethodPatch {
				body = `{}`
			}
			for _, key := range []string{"", "vgl_wrong", a.key + "x"} {
				resp := a.doKey(r.Method, concretePath(r.Path), body, key)
				if acc == public {
					require.NotEqual(t, http.StatusUnauthorized, resp.Status)
					continue
				}
				if acc == session {
					// A dashboard page sends a visitor without a session cookie to the login form.
					require.Contains(t, string(resp.Raw), `action="/login"`, "key %q", key)
					continue
				}
				require.Equal(t, http.StatusUnauthorized, resp.Status, "key %q: %s", key, resp.Raw)
				code, _ := resp.Err(t)
				require.Equal(t, CodeUnauthorized, code)
				require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
			}
			if acc == session {
				return
			}
			resp := a.do(r.Method, concretePath(r.Path), body)
			require.NotEqual(t, http.StatusUnauthorized, resp.Status, "a valid key passes: %s", resp.Raw)
		})
		if policy[key] == public {
			gotPublic[key] = true
		}
	}
	require.Equal(t, wantPublic, gotPublic)
}

func TestAuthHeaderForms(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"bearer", "Bearer " + a.key, http.StatusOK},
		{"lower-case scheme", "bearer " + a.key, http.StatusOK},
		{"no scheme", a.key, http.StatusUnauthorized},
		{"basic", "Basic " + a.key, http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"huge token", "Bearer " + strings.Repeat("k", 4096), http.StatusUnauthorized},
		{"SQL token", "Bearer ' OR '1'='1", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, a.http.URL+"/regions", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", tt.header)
			resp, err := a.client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
		})
	}

	// A revoked key stops working at once.
	keys := postgres.NewAPIKeyStore(a.pool)
	k, plain, err := keys.Create(context.Background(), "short-lived")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.doKey("GET", "/regions", "", plain).Status)
	require.NoError(t, keys.Revoke(context.Background(), k.ID))
	require.Equal(t, http.StatusUnauthorized, a.doKey("GET", "/regions", "", plain).Status)
}

// TestOpenAPIDescribesEveryRoute fails when a route is missing from openapi.yaml, or when the
// description lists an operation that no route serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	r := a.doKey("GET", "/openapi.yaml", "", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, openAPIDoc, r.Raw)

	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openAPIDoc, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "OpenAPI 3, got %q", doc.OpenAPI)

	served := map[string]bool{}
	for _, route := range a.srv.Routes() {
		path := pathParam.ReplaceAllString(route.Path, "{$1}")
		method := strings.ToLower(route.Method)
		served[method+" "+path] = true
		op, ok := doc.Paths[path][method].(map[string]any)
		require.True(t, ok, "openapi.yaml does not describe %s %s", route.Method, path)
		require.NotEmpty(t, op["responses"], "%s %s has no responses", route.Method, path)
		_, hasSecurity := op["security"]
		require.Equal(t, wantPublic[route.Method+" "+route.Path], hasSecurity,
			"%s %s: public routes, and only they, say security: []", route.Method, path)
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			require.True(t, served[method+" "+path], "openapi.yaml describes %s %s, which no route serves", method, path)
		}
	}
}

func TestRecoverAnswersGeneric500(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	a.srv.echo.GET("/panic", func(echo.Context) error { panic("secret internal detail") })
	r := a.doKey("GET", "/panic", "", "")
	require.Equal(t, http.StatusInternalServerError, r.Status)
	require.JSONEq(t, `{"error":{"code":"internal","message":"internal server error"}}`, string(r.Raw))
}

func TestNewRequiresPoolAndLogger(t *testing.T) {
	t.Parallel()
	_, err := New(Params{Logger: slog.New(slog.DiscardHandler)})
	require.Error(t, err)
}

// observed records requests as a RequestObserver.
type observed struct {
	mu   sync.Mutex
	seen []string
}

func (o *observed) ObserveRequest(method, route string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, fmt.Sprintf("%s %s %d", method, route, code))
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	t.Parallel()
	obs := &observed{}
	a := newTestAPI(t, func(p *Params) { p.Metrics = obs })
	a.do("GET", "/websites/00000000-0000-0000-0000-000000000000", "")
	a.do("GET", "/no/such/path", "")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []string{"GET /websites/:id 404", "GET unmatched 404"}, obs.seen)
}
