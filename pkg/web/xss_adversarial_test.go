package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hostile is a name that would run script if any page put it into HTML unescaped: an element,
// an attribute breakout and a javascript: URL.
const hostile = `<script>alert(1)</script>" onload="alert(2)" x='y' javascript:alert(3) <img src=x onerror=alert(4)>`

// rawPayloads must never appear verbatim in a page.
var rawPayloads = []string{"<script>alert(", `" onload=`, "<img src=x", "' x='", "</script><script>"}

// scriptURL matches a javascript: URL in an attribute that a browser would follow or run.
var scriptURL = regexp.MustCompile(`(?i)(href|src|action|formaction|data|xlink:href)\s*=\s*["']?\s*javascript:`)

func requireInert(t *testing.T, where, body string) {
	t.Helper()
	for _, p := range rawPayloads {
		require.NotContains(t, body, p, "%s carries the raw payload %q", where, p)
	}
	require.False(t, scriptURL.MatchString(body), "%s has a javascript: URL in an attribute", where)
}

// Website, status page and group names full of markup stay inert in every page of the
// dashboard, in the public status page and in its JSON. (The browser test, TestBrowser in
// browser_test.go, also renders an XSS name in Chromium; the static scripts never use
// innerHTML.)
func TestHostileNamesStayInert(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code, body := s.api(t, "POST", "/websites", `{"name":`+quote(t, hostile)+`,"url":"https://example.com/a\"b<c>?q='x'"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var w struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &w))
	s.regionState(t, w.ID, "eu", "down")
	s.incident(t, w.ID, []string{"eu"}, time.Now().Add(-time.Hour), nil, "down", "status", 500)

	code, body = s.api(t, "POST", "/status-pages", `{"slug":"xss","title":`+quote(t, hostile)+`,"description":`+quote(t, hostile)+
		`,"show_urls":true,"groups":[{"name":`+quote(t, hostile)+`,"website_ids":["`+w.ID+`"]}]}`)
	require.Equal(t, http.StatusCreated, code, body)
	var page struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &page))

	// The REST API's JSON escapes markup too (encoding/json's HTML escaping), and says it is JSON.
	code, body = s.api(t, "GET", "/websites/"+w.ID, "")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "<", "markup is \\u003c-escaped in JSON")
	require.NotContains(t, body, ">")

	c, _ := session(t, s)
	for _, path := range []string{
		"/dashboard", "/dashboard?partial=1", "/dashboard/websites/" + w.ID, "/dashboard/websites/" + w.ID + "/edit",
		"/dashboard/status-pages", "/dashboard/status-pages/" + page.ID + "/edit",
	} {
		resp, err := c.Get(s.http.URL + path)
		require.NoError(t, err)
		html := readAll(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		requireInert(t, path, html)
		require.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;", "%s renders the name, escaped", path)
	}

	resp, err := http.Get(s.http.URL + "/status/xss")
	require.NoError(t, err)
	html := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireInert(t, "/status/xss", html)
	require.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src")

	resp, err = http.Get(s.http.URL + "/status/xss.json")
	require.NoError(t, err)
	js := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.NotContains(t, js, "<", "markup is \\u003c-escaped in JSON")
	require.NotContains(t, js, ">")
}

// The public JSON carries only the fields the page shows: no ids, regions, emails, headers,
// keywords, status codes or failing responses' messages, and a URL only when the page opts in.
func TestStatusJSONRevealsOnlyThePage(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code, body := s.api(t, "POST", "/websites", `{"name":"Shop","url":"https://shop.example.com/health?token=SECRETQUERY",
		"headers":{"Authorization":"Bearer SECRETHDR"},"keyword":"SECRETKW","alert_emails":["oncall@secret.example"],
		"webhooks":["https://hooks.secret.example/x"],"body":"SECRETBODY","method":"POST"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var w struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &w))
	code, body = s.api(t, "POST", "/websites", `{"name":"Hidden neighbour","url":"https://hidden.example"}`)
	require.Equal(t, http.StatusCreated, code, body)
	s.regionState(t, w.ID, "secret-region", "down")
	s.incident(t, w.ID, []string{"secret-region"}, time.Now().Add(-time.Hour), nil, "down", "status", 418)
	s.exec(t, `UPDATE incidents SET message = 'SECRETMSG stack trace' WHERE website_id = $1`, w.ID)

	code, body = s.api(t, "POST", "/status-pages", `{"slug":"shop","title":"Shop","groups":[{"name":"Core","website_ids":["`+w.ID+`"]}]}`)
	require.Equal(t, http.StatusCreated, code, body)
	var page struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &page))

	allowed := []string{"cause", "date", "days", "description", "downtime_seconds", "duration", "ended_at", "groups",
		"incidents", "name", "started_at", "state", "state_text", "title", "updated_at", "uptime", "uptime_90d", "website", "websites"}
	for _, showURLs := range []bool{false, true} {
		if showURLs {
			code, body = s.api(t, "PATCH", "/status-pages/"+page.ID, `{"show_urls":true}`)
			require.Equal(t, http.StatusOK, code, body)
		}
		for _, path := range []string{"/status/shop.json", "/status/shop"} {
			resp, err := http.Get(s.http.URL + path)
			require.NoError(t, err)
			got := readAll(t, resp)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			for _, secret := range []string{w.ID, "secret-region", "SECRETHDR", "SECRETKW", "oncall@secret", "hooks.secret",
				"SECRETBODY", "SECRETMSG", "418", "Hidden neighbour", "hidden.example", page.ID} {
				require.NotContains(t, got, secret, "%s (show_urls %v)", path, showURLs)
			}
			if !showURLs {
				require.NotContains(t, got, "shop.example.com", path)
			}
			if path == "/status/shop.json" {
				var doc any
				require.NoError(t, json.Unmarshal([]byte(got), &doc))
				want := allowed
				if showURLs {
					want = append([]string{"url"}, allowed...)
				}
				require.Subset(t, want, jsonKeys(doc), "the JSON grew a field the page does not show")
			}
		}
	}
	// With show_urls the page shows the URL it checks, query string and all: that is the
	// operator's choice; everything else stays hidden.
}

// jsonKeys lists every object key in a decoded JSON document.
func jsonKeys(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				seen[k] = true
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quote(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}
