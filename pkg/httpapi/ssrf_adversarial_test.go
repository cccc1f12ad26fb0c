package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/probe"
)

// ssrfTargets are URLs that literally name an address a check must never reach. loopback says
// whether the address is in 127.0.0.0/8, which the allow list of the second half opens, and
// is written in a form that resolvers agree on: legacy spellings stay refused.
// Names that resolve to such addresses pass the API and are refused at dial time: that half is
// tested in pkg/probe (TestGuardDial, TestDNSRebinding, and TestHTTPProbe's redirect cases).
var ssrfTargets = []struct {
	url      string
	loopback bool
}{
	{"http://127.0.0.1/", true},
	{"http://127.0.0.1:6379/", true},
	{"http://127.1/", false},
	{"http://localhost:8080/", true},
	{"http://[::1]/", false},
	{"http://10.0.0.1/", false},
	{"http://10.255.255.254/", false},
	{"http://172.16.0.1/", false},
	{"http://172.31.255.1/", false},
	{"http://192.168.0.1/", false},
	{"http://192.168.255.255/", false},
	{"http://100.64.0.1/", false},
	{"http://100.127.255.1/", false},
	{"http://169.254.169.254/latest/meta-data/", false},
	{"http://[fe80::1]/", false},
	{"http://[febf::1]/", false},
	{"http://[fd00::1]/", false},
	{"http://[fd00:ec2::254]/", false},
	{"http://0.0.0.0/", false},
	{"http://0/", false},
	{"http://[::]/", false},
	{"http://[::ffff:169.254.169.254]/", false},
	{"http://[::ffff:a9fe:a9fe]/", false},
	{"http://[::ffff:10.0.0.1]/", false},
	{"http://[64:ff9b::a9fe:a9fe]/", false}, // NAT64 of the metadata address
	{"http://[2002:a9fe:a9fe::]/", false},   // 6to4 of it
	{"http://2130706433/", false},           // 127.0.0.1 in decimal
	{"http://0x7f000001/", false},           // in hex
	{"http://0x7f.0x0.0x0.0x1/", false},
	{"http://0177.0.0.1/", false}, // in octal
	{"http://017700000001/", false},
	{"http://2852039166/", false}, // 169.254.169.254 in decimal
	{"http://0xa9fea9fe/", false},
	{"https://127.0.0.1.:443/", true}, // trailing dot
	{"HTTP://127.0.0.1/", true},
}

// Every literal SSRF target is refused with a 422 naming url, for the website and for its
// webhooks, with no allow list; with VIGIL_ALLOW_TARGETS=127.0.0.0/8 only the loopback ones
// pass.
func TestSSRFTargetsRefused(t *testing.T) {
	t.Parallel()
	strict := newTestAPI(t, func(p *Params) { p.CheckTarget = probe.NewGuard(nil).CheckURL })
	open := newTestAPI(t, func(p *Params) {
		p.CheckTarget = probe.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).CheckURL
	})
	for _, tt := range ssrfTargets {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			body := `{"name":"ssrf","url":"` + tt.url + `"}`
			r := strict.do(http.MethodPost, "/websites", body)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
			code, fields := r.Err(t)
			require.Equal(t, CodeValidationFailed, code)
			require.Contains(t, fields["url"], "not allowed", "%s", r.Raw)
			require.Len(t, fields, 1)

			r = strict.do(http.MethodPost, "/websites", `{"name":"ssrf","url":"https://example.com","webhooks":["`+tt.url+`"]}`)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
			_, fields = r.Err(t)
			require.Contains(t, fields, "webhooks")

			r = open.do(http.MethodPost, "/websites", body)
			if tt.loopback {
				require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
			} else {
				require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
				_, fields := r.Err(t)
				require.Contains(t, fields, "url")
			}
		})
	}

	// A PATCH cannot move an existing website onto a refused target either.
	id := strict.mustCreate("/websites", `{"name":"ok","url":"https://example.com"}`)
	r := strict.do(http.MethodPatch, "/websites/"+id, `{"url":"http://169.254.169.254/"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
}

// Only http and https are check targets, whatever the guard allows.
func TestOnlyHTTPSchemes(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, func(p *Params) { p.CheckTarget = probe.NewGuard(nil).CheckURL })
	for _, u := range []string{
		"ftp://example.com/", "file:///etc/passwd", "gopher://example.com:70/", "javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>", "dict://example.com:11211/", "ldap://example.com/",
		"ws://example.com/", "//example.com/", "example.com", "http:///path", "http://user:pw@example.com/",
		"http://example.com\\@127.0.0.1/", "http://exa mple.com/",
	} {
		t.Run(u, func(t *testing.T) {
			t.Parallel()
			r := a.do(http.MethodPost, "/websites", `{"name":"x","url":`+jsonQuote(u)+`}`)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
			_, fields := r.Err(t)
			require.Contains(t, fields, "url")
		})
	}
	for _, u := range []string{"http://example.com/", "https://example.com:8443/health?x=1"} {
		require.Equal(t, http.StatusCreated, a.do(http.MethodPost, "/websites", `{"name":"x","url":"`+u+`"}`).Status)
	}
}

// Custom request headers that could inject a header, smuggle a request or change framing are
// refused by the API with the probe's own rules (probe.CheckHeaders), plus Host and Proxy-*.
func TestHeaderInjectionRefused(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	tests := map[string]string{
		"CRLF in value":        `{"X-A":"1\r\nX-Injected: 1"}`,
		"LF in value":          `{"X-A":"1\nX-Injected: 1"}`,
		"CR in value":          `{"X-A":"1\rX-Injected: 1"}`,
		"NUL in value":         `{"X-A":"1\u0000"}`,
		"DEL in value":         `{"X-A":"1\u007f"}`,
		"CRLF CRLF smuggling":  `{"X-A":"1\r\n\r\nGET /admin HTTP/1.1\r\nHost: internal"}`,
		"CRLF in name":         `{"X-A\r\nX-Injected":"1"}`,
		"colon in name":        `{"X-A: b":"1"}`,
		"space in name":        `{"X A":"1"}`,
		"empty name":           `{"":"1"}`,
		"Transfer-Encoding":    `{"Transfer-Encoding":"chunked"}`,
		"transfer-encoding lc": `{"transfer-encoding":"chunked"}`,
		"Content-Length":       `{"Content-Length":"0"}`,
		"Connection":           `{"Connection":"close, X-Foo"}`,
		"Keep-Alive":           `{"Keep-Alive":"timeout=5"}`,
		"Upgrade":              `{"Upgrade":"h2c"}`,
		"TE":                   `{"TE":"trailers"}`,
		"Trailer":              `{"Trailer":"X-A"}`,
		"Expect":               `{"Expect":"100-continue"}`,
		"HTTP2-Settings":       `{"HTTP2-Settings":"AAMAAABkAAQAAP__"}`,
		"Proxy-Authorization":  `{"Proxy-Authorization":"Basic eA=="}`,
		"Proxy-Connection":     `{"Proxy-Connection":"keep-alive"}`,
		"Proxy-Anything":       `{"Proxy-Foo":"x"}`,
		"Host":                 `{"Host":"internal.example"}`,
		"host lc":              `{"host":"internal.example"}`,
		"too long value":       `{"X-A":"` + strings.Repeat("a", probe.MaxHeaderValueBytes+1) + `"}`,
	}
	for name, headers := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := a.do(http.MethodPost, "/websites", `{"name":"x","url":"https://example.com","headers":`+headers+`}`)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
			_, fields := r.Err(t)
			require.Contains(t, fields, "headers")
			require.NotContains(t, fields["headers"], "\n", "the message itself carries no raw newline")
		})
	}
	r := a.do(http.MethodPost, "/websites", `{"name":"x","url":"https://example.com","headers":{"Authorization":"Bearer t","X-Tab":"a\tb","User-Agent":"vigil"}}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
}

func jsonQuote(s string) string {
	out, err := jsonString(s)
	if err != nil {
		panic(err)
	}
	return out
}
