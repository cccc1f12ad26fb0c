package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
	"github.com/vigil-monitor/vigil/pkg/web"
)

// session logs in through the form, like a browser, and returns a client holding the cookie
// and the session's CSRF token.
func session(t *testing.T, s *stack) (*http.Client, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(s.http.URL + "/login")
	require.NoError(t, err)
	body := readAll(t, resp)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	require.Len(t, csrf, 2, body)

	resp, err = c.PostForm(s.http.URL+"/login", url.Values{"key": {s.key}, "csrf": {csrf[1]}, "next": {"/dashboard"}})
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/dashboard", resp.Request.URL.Path)
	token := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(body)
	require.Len(t, token, 2)
	return c, token[1]
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c, csrf := session(t, s)

	var sessionCookie *http.Cookie
	u, _ := url.Parse(s.http.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == web.SessionCookie {
			sessionCookie = ck
		}
	}
	require.NotNil(t, sessionCookie)

	call := func(method, path, body, token string) int {
		req, err := http.NewRequest(method, s.http.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set(web.CSRFHeader, token)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		readAll(t, resp)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, call("GET", "/websites", "", ""), "the cookie reads the API")
	require.Equal(t, http.StatusForbidden, call("POST", "/regions", `{"name":"eu"}`, ""), "writes need the CSRF token")
	require.Equal(t, http.StatusForbidden, call("POST", "/regions", `{"name":"eu"}`, "forged"))
	require.Equal(t, http.StatusCreated, call("POST", "/regions", `{"name":"eu"}`, csrf))

	// Revoking the key ends the session at once.
	keys := postgres.NewAPIKeyStore(s.pool)
	all, err := keys.List(context.Background())
	require.NoError(t, err)
	require.NoError(t, keys.Revoke(context.Background(), all[0].ID))
	require.Equal(t, http.StatusUnauthorized, call("GET", "/websites", "", ""))
	resp, err := c.Get(s.http.URL + "/dashboard")
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, "/login", resp.Request.URL.Path, "the dashboard sends a dead session to the login form")
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// No login CSRF cookie: refused even with the right key.
	resp, err := c.PostForm(s.http.URL+"/login", url.Values{"key": {s.key}, "csrf": {"x"}})
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// A next= that leaves the site is ignored.
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	resp, err = c.Get(s.http.URL + "/login")
	require.NoError(t, err)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(readAll(t, resp))
	require.Len(t, csrf, 2)
	for _, ck := range resp.Cookies() {
		require.True(t, ck.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	}
	resp, err = c.PostForm(s.http.URL+"/login", url.Values{"key": {s.key}, "csrf": {csrf[1]}, "next": {"//evil.example/x"}})
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/dashboard", resp.Header.Get("Location"))
	var found bool
	for _, ck := range resp.Cookies() {
		if ck.Name == web.SessionCookie {
			found = true
			require.True(t, ck.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
			require.False(t, ck.Secure, "plain HTTP here; Secure over TLS")
		}
	}
	require.True(t, found)
}

func TestPagesSendCSP(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c, _ := session(t, s)
	for _, path := range []string{"/dashboard", "/dashboard/regions", "/dashboard/status-pages/new", "/dashboard/websites/new", "/login"} {
		resp, err := c.Get(s.http.URL + path)
		require.NoError(t, err)
		body := readAll(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, web.ContentSecurityPolicy, resp.Header.Get("Content-Security-Policy"), path)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
		require.NotRegexp(t, `<script>|<script [^>]*>[^<]`, body, "%s has no inline script", path)
		require.NotContains(t, body, "style=", "%s has no inline style", path)
	}
	resp, err := c.Get(s.http.URL + "/static/vendor/uplot.min.js")
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "javascript")
	resp, err = c.Get(s.http.URL + "/static/../web.go")
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestStatusPagePublic(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	secretURL := "https://internal.example.com/health?token=s3cret"
	code, body := s.api(t, "POST", "/websites", `{"name":"API <b>","url":"`+secretURL+`"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var w struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &w))
	code, body = s.api(t, "POST", "/websites", `{"name":"Not on the page","url":"https://other.example.com"}`)
	require.Equal(t, http.StatusCreated, code, body)
	s.regionState(t, w.ID, "eu", "up")
	s.incident(t, w.ID, []string{"eu"}, time.Now().Add(-2*time.Hour), ptr(time.Now().Add(-time.Hour)), "down", "status", 500)
	s.history(t, w.ID, []string{"eu"}, 3, 24*time.Hour, 50*time.Millisecond, func(time.Time, string) (monitor.Outcome, int) {
		return monitor.OutcomeUp, 200
	})

	for name, tc := range map[string]struct {
		body string
		code int
	}{
		"bad slug":        {`{"slug":"Not A Slug","title":"t"}`, http.StatusUnprocessableEntity},
		"no title":        {`{"slug":"ok"}`, http.StatusUnprocessableEntity},
		"unknown website": {`{"slug":"ok","title":"t","groups":[{"name":"g","website_ids":["00000000-0000-4000-8000-000000000000"]}]}`, http.StatusUnprocessableEntity},
		"unknown field":   {`{"slug":"ok","title":"t","private":true}`, http.StatusBadRequest},
	} {
		code, body := s.api(t, "POST", "/status-pages", tc.body)
		require.Equal(t, tc.code, code, "%s: %s", name, body)
	}
	code, body = s.api(t, "POST", "/status-pages", `{"slug":"acme","title":"Acme","groups":[{"name":"Core","website_ids":["`+w.ID+`"]}]}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = s.api(t, "POST", "/status-pages", `{"slug":"acme","title":"Again"}`)
	require.Equal(t, http.StatusConflict, code, body)
	require.Contains(t, body, `"slug"`)

	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(s.http.URL + path) // no key, no cookie
		require.NoError(t, err)
		return resp, readAll(t, resp)
	}
	resp, html := get("/status/acme")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "public, max-age=30", resp.Header.Get("Cache-Control"))
	require.Contains(t, html, "API &lt;b&gt;")
	require.NotContains(t, html, "internal.example.com")
	require.NotContains(t, html, "Not on the page")
	require.NotContains(t, html, w.ID)
	require.Contains(t, html, "Error responses", "the incident shows with a public cause")

	resp, js := get("/status/acme.json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "public, max-age=30", resp.Header.Get("Cache-Control"))
	require.NotContains(t, js, "internal.example.com")
	require.NotContains(t, js, w.ID)
	require.NotContains(t, js, `"eu"`, "regions are not on the page")
	var st web.PublicStatus
	require.NoError(t, json.Unmarshal([]byte(js), &st))
	require.Equal(t, "up", st.State)
	require.Equal(t, "API <b>", st.Groups[0].Websites[0].Name)
	require.Len(t, st.Groups[0].Websites[0].Days, status.BarDays)
	require.NotNil(t, st.Groups[0].Websites[0].Uptime90d)
	require.Len(t, st.Incidents, 1)

	// URLs show only when the page opts in.
	code, body = s.api(t, "GET", "/status-pages?q=acme", "")
	require.Equal(t, http.StatusOK, code)
	var list struct{ Items []struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	code, body = s.api(t, "PATCH", "/status-pages/"+list.Items[0].ID, `{"show_urls":true}`)
	require.Equal(t, http.StatusOK, code, body)
	_, js = get("/status/acme.json")
	require.Contains(t, js, "internal.example.com")

	resp, _ = get("/status/nope")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = get("/status/nope.json")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	code, _ = s.api(t, "DELETE", "/status-pages/"+list.Items[0].ID, "")
	require.Equal(t, http.StatusNoContent, code)
	resp, _ = get("/status/acme")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// BenchmarkOverviewFirstPage serves the overview's first page, HTML and all, through the real
// API with 10,000 websites in PostgreSQL (two regions each, some down, some with past
// incidents) and the real InfluxDB behind the numbers.
func BenchmarkOverviewFirstPage(b *testing.B) {
	s := newStack(b)
	_, err := s.pool.Exec(context.Background(), fmt.Sprintf(`
		INSERT INTO websites (name, url, created_at)
		SELECT 'site-' || g, 'https://site-' || g || '.example', now() - make_interval(secs => g)
		FROM generate_series(1, %d) g;
		INSERT INTO region_states (website_id, region, state, since)
		SELECT w.id, r.region, CASE WHEN abs(hashtext(w.id::text)) %% 50 = 0 THEN 'down' ELSE 'up' END, now()
		FROM websites w CROSS JOIN (VALUES ('eu'), ('us')) r(region);
		INSERT INTO incidents (website_id, started_at, outcome)
		SELECT website_id, now() - interval '5 minutes', 'down' FROM region_states WHERE region = 'eu' AND state = 'down';
		INSERT INTO incidents (website_id, started_at, ended_at, outcome)
		SELECT id, now() - interval '3 days', now() - interval '2 days', 'timeout' FROM websites
		WHERE abs(hashtext(id::text)) %% 10 = 0;
		ANALYZE websites; ANALYZE region_states; ANALYZE incidents;`, 10000))
	require.NoError(b, err)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(s.http.URL + "/login")
	require.NoError(b, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	resp, err = c.PostForm(s.http.URL+"/login", url.Values{"key": {s.key}, "csrf": {csrf[1]}})
	require.NoError(b, err)
	resp.Body.Close()
	for _, path := range []string{"/dashboard", "/dashboard?state=down", "/dashboard?q=site-12&page=2"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(s.http.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n < 1000 {
					b.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, n)
				}
			}
		})
	}
}
