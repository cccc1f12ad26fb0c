package web_test

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// openRedirects are next= values that a browser would follow off the site, or that only a
// lenient parser keeps on it. Browsers drop tabs and newlines anywhere in a URL, read "\" as
// "/", strip leading spaces and controls and resolve dot segments, so each of these either is
// or may become "//evil.example", a URL with a scheme, or a path that no link of the site has.
var openRedirects = []string{
	"//evil.example",
	"///evil.example",
	"////evil.example/x",
	"/\\evil.example",
	"\\/evil.example",
	"\\\\evil.example",
	"/\\/evil.example",
	"/\t/evil.example",
	"/\n/evil.example",
	"/\r\n/evil.example",
	"/\t\\evil.example",
	"\t//evil.example",
	" //evil.example",
	"\x00//evil.example",
	"/\x00/evil.example",
	"/\x0b/evil.example",
	"/\x7f/evil.example",
	"/ /evil.example",
	"/%09/evil.example",
	"/%0a/evil.example",
	"/%2F%2Fevil.example",
	"/%2f/evil.example",
	"/%5Cevil.example",
	"/%5c%5cevil.example",
	"%2F%2Fevil.example",
	"%2f%2fevil.example",
	"/..//evil.example",
	"/.//evil.example",
	"/x/..//evil.example",
	"/%2e%2e//evil.example",
	"https://evil.example",
	"http:evil.example",
	"https:/evil.example",
	"HTTPS://evil.example/dashboard",
	"//evil.example@vigil.example",
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"java\tscript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"evil.example",
	"dashboard",
	"/\u3002/evil.example",
	"/\uff0f\uff0fevil.example",
	"/\u2215\u2215evil.example",
	"/\u202eelpmaxe.live//",
	"/\u00a0/evil.example",
	"/\xff/evil.example",
	"/" + strings.Repeat("a", 4096),
	"",
}

// safeNexts are same-origin paths, which survive the login as sent.
var safeNexts = []string{
	"/",
	"/dashboard",
	"/dashboard/websites/0b3c1e6a-0000-4000-8000-000000000000/edit",
	"/dashboard?q=a%2Fb&state=down&page=2",
	"/dashboard?next=//evil.example", // in the query, not the path: it stays on the site
	"/dashboard/status-pages#top",
	"/@evil.example",    // a path on this site
	"/%20/evil.example", // so is this: browsers keep the escape
}

// A post-login redirect never leaves the site, for a visitor already logged in (GET /login)
// and after a successful login (POST /login): every payload falls back to the dashboard, and
// the login form does not carry it either.
func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c, _ := session(t, s)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	anon := &http.Client{CheckRedirect: c.CheckRedirect}

	check := func(t *testing.T, next, want string) {
		t.Helper()
		q := url.Values{"next": {next}}.Encode()
		resp, err := c.Get(s.http.URL + "/login?" + q)
		require.NoError(t, err)
		readAll(t, resp)
		if !utf8.ValidString(next) || strings.ContainsRune(next, 0) {
			// Text that PostgreSQL could not store never reaches a handler (httpapi's edge
			// check); no redirect at all is as good.
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Empty(t, resp.Header.Get("Location"))
			return
		}
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, want, resp.Header.Get("Location"), "GET /login?next=%q with a session", next)

		resp, err = anon.Get(s.http.URL + "/login?" + q)
		require.NoError(t, err)
		body := readAll(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		form := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(body)
		require.Len(t, form, 2, body)
		require.Equal(t, want, html.UnescapeString(form[1]), "login form for next=%q", next)
	}
	for _, next := range openRedirects {
		t.Run("refused "+url.PathEscape(next[:min(len(next), 40)]), func(t *testing.T) { check(t, next, "/dashboard") })
	}
	for _, next := range safeNexts {
		t.Run("kept "+url.PathEscape(next), func(t *testing.T) { check(t, next, next) })
	}

	// The same rule after POST /login.
	for _, next := range []string{"/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example", "/dashboard/regions"} {
		lc := loginClient(t, s)
		resp, err := lc.c.PostForm(s.http.URL+"/login", url.Values{"key": {s.key}, "csrf": {lc.csrf}, "next": {next}})
		require.NoError(t, err)
		readAll(t, resp)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		want := "/dashboard"
		if next == "/dashboard/regions" {
			want = next
		}
		require.Equal(t, want, resp.Header.Get("Location"), "POST /login next=%q", next)
	}
}

type loginForm struct {
	c    *http.Client
	csrf string
}

// loginClient fetches the login form with a fresh cookie jar and does not follow redirects.
func loginClient(t *testing.T, s *stack) loginForm {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c.Jar = jar
	resp, err := c.Get(s.http.URL + "/login")
	require.NoError(t, err)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(readAll(t, resp))
	require.Len(t, csrf, 2)
	return loginForm{c: c, csrf: csrf[1]}
}
