package probe

// The guard has layers: CheckURL before a request and on every redirect, the connect-time
// check on every dial, and the transport's own settings (no proxy, bounded headers). Most
// attacks meet the connect-time check first, which hides the others; the tests here reach each
// layer on its own, with targets that only that layer stops.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestRedirectChecked redirects to hosts that the connect-time check would let through (the
// fake DNS points them at 127.0.0.1, which the guard allows) but that are no valid target as
// written: only the redirect check stops them, for checks and for webhooks alike.
func TestRedirectChecked(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t)
	guard := NewGuard(allowLoopback1, WithResolver(dns.resolver()))
	tests := []struct {
		name    string
		host    string
		err     error
		outcome monitor.Outcome
		reason  string
	}{
		{"five-part number", "1.2.3.4.5", ErrInvalidURL, monitor.OutcomeDown, ReasonRedirects},
		{"legacy spelling of a refused address", "0x7f.2", ErrBlocked, monitor.OutcomeBlocked, ReasonSSRF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			to := namedURL(t, dns, tt.host, newServer(t, text("reached")).URL)
			from := newServer(t, http.RedirectHandler(to, http.StatusFound)).URL

			res := NewHTTP(guard).Probe(context.Background(), monitor.Job{URL: from, TimeoutMS: 5000})
			require.Equal(t, tt.outcome, res.Outcome, res.Message)
			require.Equal(t, tt.reason, res.Reason, res.Message)

			_, err := guard.Client(5 * time.Second).Get(from)
			require.ErrorIs(t, err, tt.err)
		})
	}
}

// namedURL returns the URL of a test server on 127.0.0.1 (srvURL) under name, which it points
// dns at.
func namedURL(t *testing.T, dns *fakeDNS, name, srvURL string) string {
	t.Helper()
	u, err := url.Parse(srvURL)
	require.NoError(t, err)
	dns.set(name, loopback4)
	return fmt.Sprintf("%s://%s:%s/", u.Scheme, name, u.Port())
}

// TestResponseHeadersBounded serves response headers above and below MaxResponseHeaderBytes.
// The connection is allowed, so only the transport's limit stops the large ones.
func TestResponseHeadersBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		bytes int
		ok    bool
	}{
		{"half the limit", MaxResponseHeaderBytes / 2, true},
		{"twice the limit", 2 * MaxResponseHeaderBytes, false},
		{"a megabyte", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i*1024 < tt.bytes; i++ {
					w.Header().Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("p", 1000))
				}
				_, _ = w.Write([]byte("ok"))
			}))

			res := NewHTTP(NewGuard(allowLoopback1)).Probe(context.Background(), monitor.Job{URL: srv.URL, TimeoutMS: 5000})
			resp, err := NewGuard(allowLoopback1).Client(5 * time.Second).Get(srv.URL)
			if tt.ok {
				require.Equal(t, monitor.OutcomeUp, res.Outcome, res.Message)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				return
			}
			require.Equal(t, monitor.OutcomeDown, res.Outcome)
			require.Equal(t, ReasonProtocol, res.Reason, res.Message)
			require.Contains(t, res.Message, "headers exceeded")
			require.ErrorContains(t, err, "headers exceeded")
		})
	}
}

// TestCheckHostCharacters builds URLs by hand, as a redirect or a job that bypassed url.Parse
// could carry them, with characters no host may hold.
func TestCheckHostCharacters(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil)
	tests := []struct {
		host string
		ok   bool
	}{
		{"a-b.example", true},
		{"a-b.example.", true},
		{"exa mple.com", false},
		{"exa\tmple.com", false},
		{"exa\x00mple.com", false},
		{"exa\x1fmple.com", false},
		{"exa\x7fmple.com", false},
		{"exa/mple.com", false},
		{"exa\\mple.com", false},
		{"user@example.com", false},
		{"example.com@127.0.0.1", false},
		{"exa%2fmple.com", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.host), func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(&url.URL{Scheme: "http", Host: tt.host, Path: "/"})
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidURL)
		})
	}
}

// proxyChildEnv marks the child process of TestProxyVariablesIgnored.
const proxyChildEnv = "VIGIL_TEST_PROXY_CHILD"

// TestProxyVariablesIgnored sets the proxy variables to a proxy that answers 418 for any host,
// and checks that neither a check nor a webhook goes through it. net/http reads the variables
// once per process, so the checks run in a child process of the test binary, started with
// them set. The target is a name (a fake DNS points it at 127.0.0.1): requests to loopback
// addresses never use a proxy, so a loopback target would show nothing.
func TestProxyVariablesIgnored(t *testing.T) {
	if os.Getenv(proxyChildEnv) != "" {
		t.Skip("the child runs TestProxyVariablesIgnoredChild only")
	}
	t.Parallel()
	var proxied atomic.Int32
	proxy := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyVariablesIgnoredChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), proxyChildEnv+"=1",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "HTTPS_PROXY="+proxy.URL, "https_proxy="+proxy.URL,
		"NO_PROXY=", "no_proxy=", "REQUEST_METHOD=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestProxyVariablesIgnoredChild", "%s", out)
	require.Zero(t, proxied.Load(), "requests went through the proxy")
}

func TestProxyVariablesIgnoredChild(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "" {
		t.Skip("runs in TestProxyVariablesIgnored's child process")
	}
	dns := newFakeDNS(t)
	target := namedURL(t, dns, "direct.test", newServer(t, text("direct")).URL)
	guard := NewGuard(allowLoopback1, WithResolver(dns.resolver()))

	res := NewHTTP(guard).Probe(context.Background(), monitor.Job{URL: target, TimeoutMS: 5000})
	require.Equal(t, monitor.OutcomeUp, res.Outcome, res.Message)
	require.Equal(t, http.StatusOK, res.StatusCode)

	resp, err := guard.Client(5 * time.Second).Get(target)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
