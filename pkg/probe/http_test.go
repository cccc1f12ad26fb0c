package probe

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Canaries planted in every case's URL; no message may repeat them.
const (
	canaryUser  = "alice-canary"
	canaryPass  = "s3cret-canary"
	canaryToken = "t0ken-canary"
)

type probeCase struct {
	name string
	// setup starts the target and returns its URL and any prober options.
	setup   func(t *testing.T, dns *fakeDNS) (string, []HTTPOption)
	job     func(j *monitor.Job)
	want    monitor.Outcome
	reason  string
	status  int
	check   func(t *testing.T, res monitor.Result)
	timeout int // ms; default 5000
}

func plain(h http.HandlerFunc) func(*testing.T, *fakeDNS) (string, []HTTPOption) {
	return func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
		return newServer(t, h).URL, nil
	}
}

func raw(handle func(c net.Conn, done <-chan struct{})) func(*testing.T, *fakeDNS) (string, []HTTPOption) {
	return func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
		return "http://" + rawServer(t, "127.0.0.1:0", handle), nil
	}
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }
}

// neverAnswer reads whatever comes and never writes.
func neverAnswer(c net.Conn, _ <-chan struct{}) { _, _ = io.Copy(io.Discard, c) }

func trustServer(srvCert *x509.Certificate) []HTTPOption {
	pool := x509.NewCertPool()
	pool.AddCert(srvCert)
	return []HTTPOption{WithRootCAs(pool)}
}

func TestHTTPProbe(t *testing.T) {
	// Not parallel itself: its subtests run in parallel with each other only, so that the
	// goroutine count below sees nothing but this test's targets and probes.
	base := runtime.NumGoroutine()
	t.Cleanup(func() { requireNoGoroutineLeak(t, base) })
	dns := newFakeDNS(t)

	cases := []probeCase{
		{
			name: "up", setup: plain(text("hello world")), want: monitor.OutcomeUp, status: 200,
			check: func(t *testing.T, res monitor.Result) {
				require.Positive(t, res.Phases.Connect)
				require.Positive(t, res.Phases.TTFB)
				require.GreaterOrEqual(t, res.Phases.Total, res.Phases.TTFB)
				require.Zero(t, res.Phases.DNS, "an IP literal needs no DNS")
				require.Zero(t, res.Phases.TLS)
				require.True(t, res.CertExpiry.IsZero())
				require.Equal(t, "site-1", res.WebsiteID)
				require.Equal(t, "europe", res.Region)
				require.False(t, res.At.IsZero())
			},
		},
		{
			name: "degraded when slower than slow_ms",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(150 * time.Millisecond):
				case <-r.Context().Done():
				}
				_, _ = io.WriteString(w, "ok")
			}),
			job:  func(j *monitor.Job) { j.SlowMS = 50 },
			want: monitor.OutcomeDegraded, reason: ReasonSlow, status: 200,
		},
		{
			name: "degraded past 80% of the timeout by default",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(2500 * time.Millisecond): // past 80% of 3000 ms, whatever the load
				case <-r.Context().Done():
				}
				_, _ = io.WriteString(w, "ok")
			}),
			timeout: 3000,
			want:    monitor.OutcomeDegraded, reason: ReasonSlow, status: 200,
		},
		{
			name: "500 is down",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "oops", http.StatusInternalServerError)
			}),
			want: monitor.OutcomeDown, reason: ReasonStatus, status: 500,
			check: func(t *testing.T, res monitor.Result) {
				require.Equal(t, "status 500, expected 200-399", res.Message)
			},
		},
		{
			name: "500 expected",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
			}),
			job:  func(j *monitor.Job) { j.ExpectedStatus = "500,503" },
			want: monitor.OutcomeUp, status: 500,
		},
		{
			name: "keyword present", setup: plain(text("<html>all systems operational</html>")),
			job:  func(j *monitor.Job) { j.Keyword = "operational" },
			want: monitor.OutcomeUp, status: 200,
		},
		{
			name: "keyword missing", setup: plain(text("<html>maintenance</html>")),
			job:  func(j *monitor.Job) { j.Keyword = "operational" },
			want: monitor.OutcomeDown, reason: ReasonKeyword, status: 200,
		},
		{
			name: "keyword split across reads",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(bytes.Repeat([]byte("x"), 32<<10-3))
				_, _ = io.WriteString(w, "NEED")
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, "LE in the haystack")
			}),
			job:  func(j *monitor.Job) { j.Keyword = "NEEDLE" },
			want: monitor.OutcomeUp, status: 200,
		},
		{
			name: "method, headers and body are sent",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodPost || r.Header.Get("X-Check") != "yes" || string(b) != `{"ping":1}` ||
					r.UserAgent() != UserAgent || r.Host != "status.example" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}),
			job: func(j *monitor.Job) {
				j.Method = "post"
				j.Headers = map[string]string{"X-Check": "yes", "Host": "status.example"}
				j.Body = `{"ping":1}`
			},
			want: monitor.OutcomeUp, status: 204,
		},
		{
			name: "redirect chain followed",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/":
					http.Redirect(w, r, "/b", http.StatusFound)
				case "/b":
					http.Redirect(w, r, "/c", http.StatusMovedPermanently)
				default:
					_, _ = io.WriteString(w, "landed")
				}
			}),
			job:  func(j *monitor.Job) { j.Keyword = "landed" },
			want: monitor.OutcomeUp, status: 200,
		},
		{
			name:   "ten redirects followed",
			setup:  plain(countdown(10)),
			want:   monitor.OutcomeUp,
			status: 200,
		},
		{
			name:   "eleven redirects are too many",
			setup:  plain(countdown(11)),
			want:   monitor.OutcomeDown,
			reason: ReasonRedirects,
		},
		{
			name: "redirect loop",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/", http.StatusFound)
			}),
			want: monitor.OutcomeDown, reason: ReasonRedirects,
		},
		{
			name: "redirect to an unsupported scheme",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "gopher://example.com/", http.StatusFound)
			}),
			want: monitor.OutcomeDown, reason: ReasonRedirects,
		},
		{
			name: "redirect to a refused literal address",
			setup: func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
				target := loopback2Server(t)
				return newServer(t, http.RedirectHandler("http://"+target+"/", http.StatusFound)).URL, nil
			},
			want: monitor.OutcomeBlocked, reason: ReasonSSRF,
			check: func(t *testing.T, res monitor.Result) {
				require.Contains(t, res.Message, "127.0.0.2 is loopback")
			},
		},
		{
			name: "redirect to a name resolving to a refused address",
			setup: func(t *testing.T, dns *fakeDNS) (string, []HTTPOption) {
				target := loopback2Server(t)
				_, port, _ := net.SplitHostPort(target)
				dns.set("internal.redirect.test", netip.MustParseAddr("127.0.0.2"))
				return newServer(t, http.RedirectHandler("http://internal.redirect.test:"+port+"/", http.StatusFound)).URL, nil
			},
			want: monitor.OutcomeBlocked, reason: ReasonSSRF,
		},
		{
			name: "name resolving to a refused address",
			setup: func(t *testing.T, dns *fakeDNS) (string, []HTTPOption) {
				target := loopback2Server(t)
				_, port, _ := net.SplitHostPort(target)
				dns.set("metadata.evil.test", netip.MustParseAddr("127.0.0.2"))
				return "http://metadata.evil.test:" + port + "/", nil
			},
			want: monitor.OutcomeBlocked, reason: ReasonSSRF,
		},
		{
			name: "name resolving to an allowed address",
			setup: func(t *testing.T, dns *fakeDNS) (string, []HTTPOption) {
				srv := newServer(t, text("ok"))
				u, _ := url.Parse(srv.URL)
				dns.set("good.site.test", netip.MustParseAddr("127.0.0.1"))
				return "http://good.site.test:" + u.Port() + "/", nil
			},
			want: monitor.OutcomeUp, status: 200,
			check: func(t *testing.T, res monitor.Result) {
				require.Positive(t, res.Phases.DNS)
			},
		},
		{
			name: "literal metadata address", setup: func(*testing.T, *fakeDNS) (string, []HTTPOption) {
				return "http://169.254.169.254/latest/meta-data/", nil
			},
			want: monitor.OutcomeBlocked, reason: ReasonSSRF,
		},
		{
			name: "decimal loopback", setup: func(*testing.T, *fakeDNS) (string, []HTTPOption) {
				return "http://2130706434/", nil // 127.0.0.2
			},
			want: monitor.OutcomeBlocked, reason: ReasonSSRF,
		},
		{
			name: "unknown name", setup: func(*testing.T, *fakeDNS) (string, []HTTPOption) {
				return "http://no-such-host.invalid.test/", nil
			},
			want: monitor.OutcomeDown, reason: ReasonDNS,
		},
		{
			name: "connection refused", setup: func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
				return "http://" + closedPort(t) + "/", nil
			},
			want: monitor.OutcomeDown, reason: ReasonRefused,
		},
		{
			name: "connection reset",
			setup: raw(func(c net.Conn, _ <-chan struct{}) {
				readRequestHead(c)
				_ = c.(*net.TCPConn).SetLinger(0)
				_ = c.Close()
			}),
			want: monitor.OutcomeDown, reason: ReasonReset,
		},
		{
			name:  "accepts and never answers",
			setup: raw(neverAnswer), timeout: 300,
			want: monitor.OutcomeTimeout, reason: ReasonTimeout,
			check: func(t *testing.T, res monitor.Result) {
				require.Contains(t, res.Message, "waiting for the response")
				require.GreaterOrEqual(t, res.Phases.Total, 300*time.Millisecond)
			},
		},
		{
			name: "slowloris headers",
			setup: raw(func(c net.Conn, done <-chan struct{}) {
				readRequestHead(c)
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Slow: "); err != nil {
					return
				}
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
						if _, err := c.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}),
			timeout: 500,
			want:    monitor.OutcomeTimeout, reason: ReasonTimeout,
		},
		{
			name: "slowloris body with keyword",
			setup: plain(func(w http.ResponseWriter, r *http.Request) {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-r.Context().Done():
						return
					case <-tick.C:
						_, _ = w.Write([]byte("z"))
						w.(http.Flusher).Flush()
					}
				}
			}),
			job:     func(j *monitor.Job) { j.Keyword = "never" },
			timeout: 500,
			want:    monitor.OutcomeTimeout, reason: ReasonTimeout, status: 200,
			check: func(t *testing.T, res monitor.Result) {
				require.Contains(t, res.Message, "waiting for the rest of the response")
			},
		},
		{
			name: "endless headers",
			setup: raw(func(c net.Conn, _ <-chan struct{}) {
				readRequestHead(c)
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\n"); err != nil {
					return
				}
				line := []byte("X-Filler: " + strings.Repeat("h", 1000) + "\r\n")
				for {
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}),
			want: monitor.OutcomeDown, reason: ReasonProtocol,
		},
		{
			name: "one MiB header",
			setup: raw(func(c net.Conn, _ <-chan struct{}) {
				readRequestHead(c)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("b", 1<<20)+"\r\nContent-Length: 2\r\n\r\nok")
			}),
			want: monitor.OutcomeDown, reason: ReasonProtocol,
		},
		{
			name: "malformed status line",
			setup: raw(func(c net.Conn, _ <-chan struct{}) {
				readRequestHead(c)
				_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
			}),
			want: monitor.OutcomeDown, reason: ReasonProtocol,
		},
		{
			name: "gzip bomb with keyword up front", setup: plain(gzipBomb("<html>healthy ")),
			job:  func(j *monitor.Job) { j.Keyword = "healthy" },
			want: monitor.OutcomeUp, status: 200,
		},
		{
			name: "gzip bomb without the keyword", setup: plain(gzipBomb("<html>")),
			job:  func(j *monitor.Job) { j.Keyword = "healthy" },
			want: monitor.OutcomeDown, reason: ReasonKeyword, status: 200,
		},
		{
			name: "gzip bomb, the website's own Accept-Encoding", setup: plain(gzipBomb("<html>")),
			job: func(j *monitor.Job) {
				j.Keyword = "healthy"
				j.Headers = map[string]string{"Accept-Encoding": "gzip"}
			},
			want: monitor.OutcomeDown, reason: ReasonKeyword, status: 200,
		},
		{
			name: "gzip bomb, no keyword", setup: plain(gzipBomb("<html>")),
			want: monitor.OutcomeUp, status: 200,
		},
		{
			name: "infinite body, no keyword", setup: plain(infiniteBody),
			want: monitor.OutcomeUp, status: 200,
		},
		{
			name: "infinite body, keyword missing", setup: plain(infiniteBody),
			job:  func(j *monitor.Job) { j.Keyword = "healthy" },
			want: monitor.OutcomeDown, reason: ReasonKeyword, status: 200,
		},
		{
			name: "tls records certificate expiry",
			setup: func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
				srv := newTLSServer(t, text("secure"))
				return srv.URL, trustServer(srv.Certificate())
			},
			job:  func(j *monitor.Job) { j.Keyword = "secure" },
			want: monitor.OutcomeUp, status: 200,
			check: func(t *testing.T, res monitor.Result) {
				require.False(t, res.CertExpiry.IsZero())
				require.True(t, res.CertExpiry.After(time.Now()))
				require.Positive(t, res.Phases.TLS)
				require.Positive(t, res.Phases.Connect)
			},
		},
		{
			name: "tls with an untrusted certificate",
			setup: func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
				return newTLSServer(t, text("secure")).URL, nil
			},
			want: monitor.OutcomeDown, reason: ReasonTLS,
		},
		{
			name: "tls handshake stalls",
			setup: func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
				return "https://" + rawServer(t, "127.0.0.1:0", neverAnswer), nil
			},
			timeout: 300,
			want:    monitor.OutcomeTimeout, reason: ReasonTimeout,
			check: func(t *testing.T, res monitor.Result) {
				require.Contains(t, res.Message, "waiting for the TLS handshake")
				require.Positive(t, res.Phases.TLS)
			},
		},
		{
			name: "plain http to a tls port",
			setup: func(t *testing.T, _ *fakeDNS) (string, []HTTPOption) {
				return strings.Replace(newTLSServer(t, text("x")).URL, "https:", "http:", 1), nil
			},
			want: monitor.OutcomeDown, reason: ReasonStatus, status: 400,
		},
		{
			name: "malformed url", setup: func(*testing.T, *fakeDNS) (string, []HTTPOption) { return "http://[::1", nil },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
		{
			name: "unsupported scheme", setup: func(*testing.T, *fakeDNS) (string, []HTTPOption) { return "ftp://example.com/", nil },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
		{
			name: "empty url", setup: func(*testing.T, *fakeDNS) (string, []HTTPOption) { return "", nil },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
		{
			name: "bad expected_status", setup: plain(text("ok")),
			job:  func(j *monitor.Job) { j.ExpectedStatus = "2xx" },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
		{
			name: "bad method", setup: plain(text("ok")),
			job:  func(j *monitor.Job) { j.Method = "GET /admin HTTP/1.1\r\n" },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
		{
			name: "header injection", setup: plain(text("ok")),
			job:  func(j *monitor.Job) { j.Headers = map[string]string{"X-A": "b\r\nBcc: victim@example.com"} },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
		{
			name: "hop-by-hop header", setup: plain(text("ok")),
			job:  func(j *monitor.Job) { j.Headers = map[string]string{"transfer-encoding": "chunked"} },
			want: monitor.OutcomeDown, reason: ReasonInvalid,
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rawURL, opts := tc.setup(t, dns)
			p := NewHTTP(NewGuard(allowLoopback1, WithResolver(dns.resolver())), opts...)
			job := monitor.Job{
				WebsiteID: "site-1", Region: "europe", URL: plantCanaries(rawURL),
				Method: "GET", TimeoutMS: 5000, ExpectedStatus: "200-399",
			}
			if tc.timeout > 0 {
				job.TimeoutMS = tc.timeout
			}
			if tc.job != nil {
				tc.job(&job)
			}
			res := p.Probe(context.Background(), job)
			require.Equal(t, tc.want, res.Outcome, "reason %q, message %q", res.Reason, res.Message)
			require.Equal(t, tc.reason, res.Reason, res.Message)
			if tc.status != 0 {
				require.Equal(t, tc.status, res.StatusCode)
			}
			if res.Outcome != monitor.OutcomeUp {
				require.NotEmpty(t, res.Message)
			}
			// Every verdict comes within the deadline (with scheduling slack on 2 shared cores).
			require.Less(t, res.Phases.Total, time.Duration(job.TimeoutMS)*time.Millisecond+2*time.Second)
			for _, canary := range []string{canaryUser, canaryPass, canaryToken} {
				require.NotContains(t, res.Message, canary)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// plantCanaries adds credentials and a query token to a well-formed URL, so that every case
// also shows that messages never carry them.
func plantCanaries(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.User = url.UserPassword(canaryUser, canaryPass)
	q := u.Query()
	q.Set("token", canaryToken)
	u.RawQuery = q.Encode()
	return u.String()
}

// countdown redirects /n to /n-1 until /0, which answers 200; it starts at /n for "/".
func countdown(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var left int
		if r.URL.Path == "/" {
			left = n
		} else if _, err := fmt.Sscanf(r.URL.Path, "/%d", &left); err != nil {
			http.NotFound(w, r)
			return
		}
		if left == 0 {
			_, _ = io.WriteString(w, "done")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/%d", left-1), http.StatusFound)
	}
}

// loopback2Server starts a server that would answer "up" on 127.0.0.2, a loopback address the
// test guard refuses: a check that reached it would be up, so blocked proves the refusal.
func loopback2Server(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 is not routable here: %v", err)
	}
	srv := &http.Server{Handler: text("you should not see this"), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestDNSRebinding changes the DNS answer between the API's validation (CheckURL, no DNS) and
// the dial: the second check sees the refused address at connect time and is blocked.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t)
	srv := newServer(t, text("ok"))
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	target := "http://rebind.test:" + u.Port() + "/"
	guard := NewGuard(allowLoopback1, WithResolver(dns.resolver()))
	p := NewHTTP(guard)

	parsed, err := url.Parse(target)
	require.NoError(t, err)
	require.NoError(t, guard.CheckURL(parsed), "a name passes validation")

	job := monitor.Job{URL: target, TimeoutMS: 2000}
	dns.set("rebind.test", netip.MustParseAddr("127.0.0.1"))
	require.Equal(t, monitor.OutcomeUp, p.Probe(context.Background(), job).Outcome)

	dns.set("rebind.test", netip.MustParseAddr("127.0.0.2"))
	res := p.Probe(context.Background(), job)
	require.Equal(t, monitor.OutcomeBlocked, res.Outcome, res.Message)

	dns.set("rebind.test", netip.MustParseAddr("169.254.169.254"))
	res = p.Probe(context.Background(), job)
	require.Equal(t, monitor.OutcomeBlocked, res.Outcome, res.Message)
	require.Contains(t, res.Message, "cloud metadata")
}

// TestProxyEnvironmentIgnored points the proxy variables at a server that would answer for
// any host; the probe must go to the target directly.
func TestProxyEnvironmentIgnored(t *testing.T) {
	proxy := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	target := newServer(t, text("direct"))
	res := NewHTTP(NewGuard(allowLoopback1)).Probe(context.Background(), monitor.Job{URL: target.URL, TimeoutMS: 2000})
	require.Equal(t, monitor.OutcomeUp, res.Outcome, res.Message)
	require.Equal(t, 200, res.StatusCode)
}

// TestParentCancel shows that a worker stopping is not mistaken for a timeout.
func TestParentCancel(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, "127.0.0.1:0", neverAnswer)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond) // cancel while the check waits for the response
		cancel()
	}()
	res := NewHTTP(NewGuard(allowLoopback1)).Probe(ctx, monitor.Job{URL: "http://" + addr, TimeoutMS: 5000})
	require.Equal(t, ReasonCanceled, res.Reason)
}

// TestHostileMemory probes the gzip bomb and the infinite body one after the other and checks
// that the bytes allocated stay far below what the targets send.
func TestHostileMemory(t *testing.T) {
	// Not parallel: the allocation counter is process-wide.
	base := runtime.NumGoroutine()
	t.Cleanup(func() { requireNoGoroutineLeak(t, base) })
	bomb := newServer(t, gzipBomb("<html>"))
	inf := newServer(t, http.HandlerFunc(infiniteBody))
	zerosMiB() // precompute outside the measurement
	p := NewHTTP(NewGuard(allowLoopback1))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 3 {
		for _, target := range []string{bomb.URL, inf.URL} {
			res := p.Probe(context.Background(), monitor.Job{URL: target, TimeoutMS: 5000, Keyword: "absent"})
			require.Equal(t, monitor.OutcomeDown, res.Outcome, res.Message)
			require.Equal(t, ReasonKeyword, res.Reason)
		}
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("6 hostile probes allocated %d KiB in total", allocated>>10)
	require.Less(t, allocated, uint64(24<<20), "reading must stay bounded (a bomb is 1 GiB)")
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Less(t, after.HeapInuse, before.HeapInuse+8<<20)
}

func TestProbeNeverPanics(t *testing.T) {
	t.Parallel()
	p := NewHTTP(nil)
	jobs := []monitor.Job{
		{},
		{URL: "http://\x00/"},
		{URL: "http://example.com/", Method: "\x7f"},
		{URL: "http://example.com/", Headers: map[string]string{"": "x"}},
		{URL: "http://example.com/", Headers: map[string]string{"X": strings.Repeat("v", MaxHeaderValueBytes+1)}},
		{URL: "http://example.com/", ExpectedStatus: "999"},
		{URL: "http://example.com/", TimeoutMS: -5, ExpectedStatus: " "},
		{URL: "http://127.0.0.1:0/", TimeoutMS: 1 << 30},
	}
	for _, j := range jobs {
		res := p.Probe(nil, j) //nolint:staticcheck // a nil context must not panic either
		require.NotEmpty(t, res.Outcome)
		require.NotEqual(t, monitor.OutcomeUp, res.Outcome)
	}
}

// TestManySlowTargets runs a crowd of checks against targets that accept and never answer:
// every one times out within its deadline, and no goroutine or connection is left behind.
func TestManySlowTargets(t *testing.T) {
	// Not parallel: it counts goroutines. Each check costs two descriptors here (client and
	// server side), so 2,000 stay well inside this machine's limit of 20,000.
	n := 2000
	if testing.Short() {
		n = 200
	}
	base := runtime.NumGoroutine()
	t.Cleanup(func() { requireNoGoroutineLeak(t, base) })
	var targets []string
	for range 4 {
		targets = append(targets, "http://"+rawServer(t, "127.0.0.1:0", neverAnswer)+"/")
	}
	p := NewHTTP(NewGuard(allowLoopback1))
	const timeoutMS = 1000
	results := make(chan monitor.Result, n)
	for i := range n {
		go func() {
			results <- p.Probe(context.Background(), monitor.Job{URL: targets[i%len(targets)], TimeoutMS: timeoutMS})
		}()
	}
	outcomes := map[monitor.Outcome]int{}
	var slowest time.Duration
	for range n {
		res := <-results
		outcomes[res.Outcome]++
		slowest = max(slowest, res.Phases.Total)
	}
	t.Logf("%d slow targets: outcomes %v, slowest verdict after %s", n, outcomes, slowest)
	require.Equal(t, map[monitor.Outcome]int{monitor.OutcomeTimeout: n}, outcomes)
	// The targets never answer, so without the deadline no check would end at all; the slack
	// only absorbs a loaded machine's scheduling delay, it measures nothing.
	require.Less(t, slowest, timeoutMS*time.Millisecond+10*time.Second)
}
