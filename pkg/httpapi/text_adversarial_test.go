package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/web"
)

// badText are escaped query or path values that PostgreSQL refuses in text: a byte that is
// no UTF-8 at all, an overlong "/", an encoded UTF-16 surrogate, and NUL.
var badText = []string{"%ff", "%FF", "%c0%af", "%ED%A0%80", "%00", "a%00b"}

// Every query parameter, form field and path parameter is checked at the edge: text that
// PostgreSQL would refuse is a 400 naming the parameter (a 404 on the public status pages),
// never a 500, and nothing is logged as an error.
func TestBadTextRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	logs := &logtest.Buffer{}
	a := newTestAPI(t, func(p *Params) { p.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	ctx := context.Background()
	k, _, err := postgres.NewAPIKeyStore(a.pool).Create(ctx, "dashboard")
	require.NoError(t, err)
	sess, err := postgres.NewSessionStore(a.pool).Create(ctx, k.ID, time.Hour)
	require.NoError(t, err)

	send := func(t *testing.T, method, path, contentType, body string) response {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, a.http.URL+path, r)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+a.key)
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: sess.Token})
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := a.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	}
	expect := func(t *testing.T, r response, status int, field string) {
		t.Helper()
		require.Equal(t, status, r.Status, "%s", r.Raw)
		_, fields := r.Err(t)
		require.Contains(t, fields, field, "%s", r.Raw)
		require.Contains(t, fields[field], "UTF-8 without NUL", "%s", r.Raw)
	}

	for _, bad := range badText {
		for _, path := range []string{
			"/websites?q=", "/regions?q=", "/status-pages?q=", "/monitor?q=", "/monitor?limit=1&q=",
			"/incidents?state=", "/notifications?incident_id=", "/monitor/00000000-0000-0000-0000-000000000000?region=",
			"/dashboard?q=", "/status/x?q=", "/healthz?x=",
		} {
			t.Run("query "+path+bad, func(t *testing.T) {
				field := strings.TrimSuffix(path[strings.LastIndexAny(path, "?&")+1:], "=")
				expect(t, send(t, http.MethodGet, path+bad, "", ""), http.StatusBadRequest, field)
			})
		}
		for _, path := range []string{"/websites/", "/regions/", "/status-pages/", "/monitor/", "/incidents/", "/dashboard/websites/"} {
			t.Run("path "+path+bad, func(t *testing.T) {
				expect(t, send(t, http.MethodGet, path+bad, "", ""), http.StatusBadRequest, "id")
			})
		}
		t.Run("path /monitor/:id/downtime "+bad, func(t *testing.T) {
			expect(t, send(t, http.MethodGet, "/monitor/"+bad+"/downtime", "", ""), http.StatusBadRequest, "id")
		})
		t.Run("delete "+bad, func(t *testing.T) {
			expect(t, send(t, http.MethodDelete, "/websites/"+bad, "", ""), http.StatusBadRequest, "id")
		})
		for _, path := range []string{"/status/" + bad, "/status/" + bad + ".json", "/status/ok" + bad + ".json"} {
			t.Run("public "+path, func(t *testing.T) {
				expect(t, send(t, http.MethodGet, path, "", ""), http.StatusNotFound, "slug")
			})
		}
		t.Run("form "+bad, func(t *testing.T) {
			r := send(t, http.MethodPost, "/login", "application/x-www-form-urlencoded", "csrf=x&key="+bad)
			expect(t, r, http.StatusBadRequest, "key")
		})
	}
	require.NotContains(t, logs.String(), `"level":"ERROR"`)

	// A sound value still reaches the handler.
	require.Equal(t, http.StatusOK, send(t, http.MethodGet, "/websites?q="+url.QueryEscape("café ✓"), "", "").Status)
	require.Equal(t, http.StatusNotFound, send(t, http.MethodGet, "/status/none", "", "").Status)
}

// A JSON string holding NUL is refused with a 422 naming the field, however deep, before it
// reaches PostgreSQL; a body that is not UTF-8 is malformed.
func TestJSONNulRefused(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	site := a.mustCreate("/websites", `{"name":"ok","url":"https://example.com"}`)
	page := a.mustCreate("/status-pages", `{"slug":"ok","title":"ok"}`)
	cases := []struct{ method, path, body, field string }{
		{"POST", "/websites", `{"name":"a\u0000","url":"https://example.com"}`, "name"},
		{"POST", "/websites", `{"name":"a","url":"https://example.com/\u0000"}`, "url"},
		{"POST", "/websites", `{"name":"a","url":"https://example.com","headers":{"X-A":"\u0000"}}`, "headers"},
		{"POST", "/websites", `{"name":"a","url":"https://example.com","headers":{"X-\u0000":"a"}}`, "headers"},
		{"POST", "/websites", `{"name":"a","url":"https://example.com","regions":["eu","\u0000"]}`, "regions"},
		{"POST", "/websites", `{"name":"a","url":"https://example.com","alert_emails":["a@b.c\u0000"]}`, "alert_emails"},
		{"PATCH", "/websites/" + site, `{"keyword":"\u0000"}`, "keyword"},
		{"POST", "/regions", `{"name":"eu\u0000"}`, "name"},
		{"POST", "/status-pages", `{"slug":"x","title":"t","description":"a\u0000b"}`, "description"},
		{"PATCH", "/status-pages/" + page, `{"description":"\u0000"}`, "description"},
		{"POST", "/status-pages", `{"slug":"x","title":"t","groups":[{"name":"g","website_ids":["\u0000"]}]}`, "groups[0].website_ids"},
		{"PATCH", "/status-pages/" + page, `{"groups":[{"name":"g"},{"name":"\u0000"}]}`, "groups[1].name"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.field, func(t *testing.T) {
			r := a.do(tc.method, tc.path, tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
			code, fields := r.Err(t)
			require.Equal(t, CodeValidationFailed, code)
			require.Equal(t, map[string]string{tc.field: "must not contain NUL characters"}, fields)
		})
	}
	r := a.do("POST", "/regions", "{\"name\":\"eu\xff\"}")
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
	code, _ := r.Err(t)
	require.Equal(t, CodeMalformedJSON, code)
	require.Equal(t, "", a.do("GET", "/status-pages/"+page, "").JSON(t)["description"])
}

// The REST API reads JSON whatever Content-Type a client sends: `curl -d`, which the README's
// first session uses, labels its body as a form. The text check must neither consume such a
// body nor judge it as a form, where an escape like "%00" inside a JSON string would decode
// to NUL.
func TestJSONBodyLabelledAsAForm(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	body := `{"name":"curl -d","url":"https://example.com/?q=%00%ff","interval_seconds":60}`
	// Served without the contract check: the spec describes the JSON type that clients should
	// send, and this is the leniency towards those that do not.
	req := httptest.NewRequest(http.MethodPost, "/websites", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code, "%s", rec.Body)
	require.Contains(t, rec.Body.String(), `"name":"curl -d"`)
}
