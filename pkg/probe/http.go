package probe

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitor/vigil/pkg/logging"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// UserAgent is sent with every check unless the website sets its own.
const UserAgent = "Vigil/1.0 (+uptime monitor)"

// HTTP probes websites over HTTP and HTTPS. One HTTP is shared by all of a worker's checks:
// it holds one guarded Transport, with keep-alives off so that every check opens its own
// connection, DNS, connect and TLS are measured each time, and the connection ends with the
// check's deadline.
type HTTP struct {
	guard     *Guard
	client    *http.Client
	now       func() time.Time
	userAgent string
	statuses  statusCache
	log       *slog.Logger
}

// HTTPOption changes how an HTTP prober works; the defaults suit production.
type HTTPOption func(*httpConfig)

type httpConfig struct {
	rootCAs   *x509.CertPool
	now       func() time.Time
	userAgent string
	log       *slog.Logger
}

// WithRootCAs makes the prober trust pool instead of the system roots (tests trust
// httptest's certificate this way).
func WithRootCAs(pool *x509.CertPool) HTTPOption {
	return func(c *httpConfig) { c.rootCAs = pool }
}

// WithClock sets the clock that stamps Result.At and measures the phases.
func WithClock(now func() time.Time) HTTPOption {
	return func(c *httpConfig) { c.now = now }
}

// WithUserAgent replaces the default User-Agent.
func WithUserAgent(ua string) HTTPOption {
	return func(c *httpConfig) { c.userAgent = ua }
}

// WithLogger sets the logger for what does not change a verdict, such as a response body that
// fails to close; by default nothing is logged.
func WithLogger(l *slog.Logger) HTTPOption {
	return func(c *httpConfig) { c.log = l }
}

// NewHTTP returns a prober whose every connection passes g. A nil g refuses every
// special-purpose range with no allow list.
func NewHTTP(g *Guard, opts ...HTTPOption) *HTTP {
	if g == nil {
		g = NewGuard(nil)
	}
	cfg := httpConfig{now: time.Now, userAgent: UserAgent}
	for _, o := range opts {
		o(&cfg)
	}
	t := g.Transport(&http.Transport{
		TLSClientConfig:        &tls.Config{RootCAs: cfg.rootCAs, MinVersion: tls.VersionTLS12},
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		// The check's deadline bounds every phase on the connection itself (Guard.Transport);
		// this only backs it up.
		TLSHandshakeTimeout: monitor.MaxTimeoutMS * time.Millisecond,
	})
	return &HTTP{
		guard: g,
		client: &http.Client{
			Transport:     t,
			CheckRedirect: g.checkRedirect,
		},
		now:       cfg.now,
		userAgent: cfg.userAgent,
		log:       cfg.log,
	}
}

// Probe runs one check of job and returns its result. It never panics and never returns
// without a verdict: a malformed job is down with reason "invalid". The check's deadline is
// job.TimeoutMS over the whole exchange, redirects and body included. If ctx itself is
// cancelled (the worker is stopping), the result has reason "canceled" and should be
// discarded rather than recorded.
func (p *HTTP) Probe(ctx context.Context, job monitor.Job) (res monitor.Result) {
	if ctx == nil {
		ctx = context.Background()
	}
	start := p.now()
	res = monitor.Result{WebsiteID: job.WebsiteID, Region: job.Region, At: start}
	defer func() {
		if r := recover(); r != nil {
			res.Outcome, res.Reason, res.Message = monitor.OutcomeDown, ReasonInternal, "internal error in the probe"
		}
	}()

	timeout, slow := job.Timeout(), job.SlowThreshold()

	expected, err := p.statuses.get(job.ExpectedStatus)
	if err != nil {
		return invalid(res, "expected_status: "+err.Error())
	}
	if err := CheckHeaders(job.Headers); err != nil {
		return invalid(res, err.Error())
	}
	method := strings.ToUpper(strings.TrimSpace(job.Method))
	if method == "" {
		method = http.MethodGet
	}
	if !validMethod(method) {
		return invalid(res, "method is not a valid HTTP token")
	}

	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &trace{now: p.now, start: start}
	var body io.Reader
	if job.Body != "" {
		body = strings.NewReader(job.Body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(pctx, tr.clientTrace()), method, job.URL, body)
	if err != nil {
		return invalid(res, "url: not a valid URL")
	}
	if err := p.guard.CheckURL(req.URL); err != nil {
		if errors.Is(err, ErrBlocked) {
			res.Outcome, res.Reason, res.Message = monitor.OutcomeBlocked, ReasonSSRF, blockedMessage(err)
			return res
		}
		return invalid(res, "url: "+strings.TrimPrefix(err.Error(), "probe: "))
	}
	req.Header.Set("User-Agent", p.userAgent)
	for k, v := range job.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}

	resp, err := p.client.Do(req)
	if err != nil {
		res.Phases = tr.phases(p.now())
		return classify(ctx, pctx, res, err, req.URL.Hostname(), tr.stage())
	}
	defer logging.Close(p.log, "response body", resp.Body.Close, "website_id", job.WebsiteID, "region", job.Region)
	res.StatusCode = resp.StatusCode
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		res.CertExpiry = resp.TLS.PeerCertificates[0].NotAfter
	} else {
		res.CertExpiry = tr.certExpiry()
	}

	if !expected.Contains(resp.StatusCode) {
		res.Phases = tr.phases(p.now())
		res.Outcome, res.Reason = monitor.OutcomeDown, ReasonStatus
		res.Message = fmt.Sprintf("status %d, expected %s", resp.StatusCode, expected)
		return res
	}
	if job.Keyword != "" {
		found, err := findKeyword(resp, job.Keyword)
		res.Phases = tr.phases(p.now())
		switch {
		case found:
		case err != nil:
			return classifyBody(ctx, pctx, res, err, tr.stage())
		default:
			res.Outcome, res.Reason = monitor.OutcomeDown, ReasonKeyword
			res.Message = fmt.Sprintf("keyword not found in the first %d KiB of the body", monitor.MaxBodyBytes>>10)
			return res
		}
	} else {
		res.Phases = tr.phases(p.now())
	}
	res.Outcome = monitor.OutcomeUp
	if res.Phases.Total > slow {
		res.Outcome, res.Reason = monitor.OutcomeDegraded, ReasonSlow
		res.Message = fmt.Sprintf("responded in %d ms, slower than %d ms", res.Phases.Total.Milliseconds(), slow.Milliseconds())
	}
	return res
}

// maxStatusSets bounds the statusCache. Installations use a handful of distinct
// expected_status values (most sites keep the default); past the bound, values are parsed on
// every check rather than grow the cache.
const maxStatusSets = 1024

// statusCache holds parsed expected_status values, keyed by the job's string: parsing one on
// every check cost about 2% of a worker's CPU. A StatusSet is immutable, so the checks share
// them. Invalid values are not cached (the API refuses them; they are rare).
type statusCache struct {
	sets sync.Map // string -> monitor.StatusSet
	n    atomic.Int32
}

// get returns the job's expected_status parsed, defaulting an empty one.
func (c *statusCache) get(s string) (monitor.StatusSet, error) {
	if v, ok := c.sets.Load(s); ok {
		return v.(monitor.StatusSet), nil
	}
	src := s
	if strings.TrimSpace(src) == "" {
		src = monitor.DefaultExpectedStatus
	}
	set, err := monitor.ParseExpectedStatus(src)
	if err != nil {
		return nil, err
	}
	if c.n.Load() < maxStatusSets {
		if _, loaded := c.sets.LoadOrStore(s, set); !loaded {
			c.n.Add(1)
		}
	}
	return set, nil
}

func invalid(res monitor.Result, msg string) monitor.Result {
	res.Outcome, res.Reason, res.Message = monitor.OutcomeDown, ReasonInvalid, "invalid check: "+msg
	return res
}

// bufPool holds the buffers of keyword searches, so that a check allocates none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// findKeyword reads at most monitor.MaxBodyBytes of the decompressed body, stopping as soon as
// the keyword is seen. It keeps only one buffer, carrying the last len(keyword)-1 bytes over
// so that a keyword split across reads is found.
func findKeyword(resp *http.Response, keyword string) (bool, error) {
	kw := []byte(keyword)
	if len(kw) > monitor.MaxBodyBytes {
		return false, nil
	}
	var r io.Reader = resp.Body
	if !resp.Uncompressed && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		// The website set its own Accept-Encoding, so the transport left the body compressed.
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return false, fmt.Errorf("gzip: %w", err)
		}
		r = zr
	}
	r = io.LimitReader(r, monitor.MaxBodyBytes)

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	if len(buf) < 2*len(kw) {
		buf = make([]byte, 2*len(kw))
	}
	keep := 0
	for {
		n, err := r.Read(buf[keep:])
		if n > 0 {
			window := buf[:keep+n]
			if bytes.Contains(window, kw) {
				return true, nil
			}
			keep = min(len(kw)-1, len(window))
			copy(buf, window[len(window)-keep:])
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// trace records the phases of a check from httptrace callbacks. Callbacks may run on the
// transport's goroutines, even after the check gave up, so every field is under mu. Durations
// add up over redirects: each hop opens a new connection.
type trace struct {
	now   func() time.Time
	start time.Time

	mu                            sync.Mutex
	dnsStart, connStart, tlsStart time.Time
	dns, connect, tls             time.Duration
	firstByte                     time.Time
	leafExpiry                    time.Time
}

func (t *trace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) {
			t.mu.Lock()
			t.dnsStart = t.now()
			t.mu.Unlock()
		},
		DNSDone: func(info httptrace.DNSDoneInfo) {
			t.mu.Lock()
			// A lookup that failed (at the deadline, when it stalled) stays the running
			// phase, so that the timeout names it.
			if info.Err == nil && !t.dnsStart.IsZero() {
				t.dns += t.now().Sub(t.dnsStart)
				t.dnsStart = time.Time{}
			}
			t.mu.Unlock()
		},
		ConnectStart: func(string, string) {
			t.mu.Lock()
			if t.connStart.IsZero() {
				t.connStart = t.now()
			}
			t.mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			t.mu.Lock()
			// Happy eyeballs may race two connects: count from the first start to the
			// first success, once.
			if err == nil && !t.connStart.IsZero() {
				t.connect += t.now().Sub(t.connStart)
				t.connStart = time.Time{}
			}
			t.mu.Unlock()
		},
		TLSHandshakeStart: func() {
			t.mu.Lock()
			t.tlsStart = t.now()
			t.mu.Unlock()
		},
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			t.mu.Lock()
			if err == nil && !t.tlsStart.IsZero() {
				t.tls += t.now().Sub(t.tlsStart)
				t.tlsStart = time.Time{}
			}
			if len(st.PeerCertificates) > 0 {
				t.leafExpiry = st.PeerCertificates[0].NotAfter
			}
			t.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			t.mu.Lock()
			t.firstByte = t.now()
			t.mu.Unlock()
		},
	}
}

// phases returns the phases so far, with total measured up to end.
func (t *trace) phases(end time.Time) monitor.Phases {
	t.mu.Lock()
	defer t.mu.Unlock()
	ph := monitor.Phases{DNS: t.dns, Connect: t.connect, TLS: t.tls, Total: end.Sub(t.start)}
	// A phase still running when the check ended (it stalled there) counts up to the end.
	if !t.dnsStart.IsZero() {
		ph.DNS += end.Sub(t.dnsStart)
	}
	if !t.connStart.IsZero() {
		ph.Connect += end.Sub(t.connStart)
	}
	if !t.tlsStart.IsZero() {
		ph.TLS += end.Sub(t.tlsStart)
	}
	if !t.firstByte.IsZero() {
		ph.TTFB = t.firstByte.Sub(t.start)
	}
	return ph
}

// stage names the phase a check was in, for the message of a timeout.
func (t *trace) stage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !t.dnsStart.IsZero():
		return "the DNS answer"
	case !t.connStart.IsZero():
		return "the connection"
	case !t.tlsStart.IsZero():
		return "the TLS handshake"
	case t.firstByte.IsZero():
		return "the response"
	default:
		return "the rest of the response"
	}
}

func (t *trace) certExpiry() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.leafExpiry
}

// validMethod reports whether m is an RFC 9110 token.
func validMethod(m string) bool {
	if len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isTokenChar(m[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
