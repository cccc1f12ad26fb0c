package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// ErrBlocked is wrapped by every refusal of the SSRF guard, so that callers can tell "the
// target is not allowed" (outcome blocked, HTTP 422) from "the target is down".
var ErrBlocked = errors.New("target address is not allowed")

// ErrInvalidURL is wrapped when a URL cannot be a check target at all: a scheme other than
// http or https, no host, or a host that is neither a name nor a valid address.
var ErrInvalidURL = errors.New("invalid target URL")

// MaxResponseHeaderBytes bounds the response headers of a probe or a guarded client, so that
// a target sending endless headers costs a few kilobytes, not the worker's memory.
const MaxResponseHeaderBytes = 64 << 10

// refusedRange is a range of addresses that a check must never reach, with the name that
// appears in messages and logs.
type refusedRange struct {
	prefix netip.Prefix
	name   string
}

// refused lists the ranges the guard refuses unless the allow list opens them. IPv4-mapped
// IPv6 addresses are unmapped before the lookup, and the NAT64 and 6to4 forms are checked on
// the IPv4 address they embed, so each IPv4 range needs only its IPv4 entry. The more specific
// cloud-metadata entries come before their covering ranges so that messages name them.
var refused = []refusedRange{
	{mustPrefix("169.254.169.254/32"), "cloud metadata"},
	{mustPrefix("fd00:ec2::254/128"), "cloud metadata"},
	{mustPrefix("0.0.0.0/8"), "unspecified"},
	{mustPrefix("10.0.0.0/8"), "private"},
	{mustPrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{mustPrefix("127.0.0.0/8"), "loopback"},
	{mustPrefix("169.254.0.0/16"), "link-local"},
	{mustPrefix("172.16.0.0/12"), "private"},
	{mustPrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{mustPrefix("192.0.2.0/24"), "documentation"},
	{mustPrefix("192.88.99.0/24"), "6to4 relay"},
	{mustPrefix("192.168.0.0/16"), "private"},
	{mustPrefix("198.18.0.0/15"), "benchmarking"},
	{mustPrefix("198.51.100.0/24"), "documentation"},
	{mustPrefix("203.0.113.0/24"), "documentation"},
	{mustPrefix("224.0.0.0/4"), "multicast"},
	{mustPrefix("240.0.0.0/4"), "reserved"}, // includes broadcast 255.255.255.255
	{mustPrefix("::/128"), "unspecified"},
	{mustPrefix("::1/128"), "loopback"},
	{mustPrefix("::/96"), "IPv4-compatible"},
	{mustPrefix("64:ff9b:1::/48"), "local NAT64"},
	{mustPrefix("100::/64"), "discard"},
	{mustPrefix("2001::/23"), "IETF protocol assignments"}, // includes Teredo 2001::/32
	{mustPrefix("2001:db8::/32"), "documentation"},
	{mustPrefix("3fff::/20"), "documentation"},
	{mustPrefix("fc00::/7"), "unique-local"},
	{mustPrefix("fe80::/10"), "link-local"},
	{mustPrefix("fec0::/10"), "site-local"},
	{mustPrefix("ff00::/8"), "multicast"},
}

var (
	nat64Prefix = mustPrefix("64:ff9b::/96")
	sixToFour   = mustPrefix("2002::/16")
	loopback4   = netip.AddrFrom4([4]byte{127, 0, 0, 1})
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Guard keeps checks and other outbound requests (webhooks) away from the machine's own
// network: loopback, private, link-local, carrier-grade NAT, unique-local, cloud metadata and
// the other special-purpose ranges. It checks the IP at connect time, after DNS, so that
// neither a redirect nor a DNS answer that changes after validation can reach a refused
// address. Self-hosters open ranges they do want to monitor with an allow list
// (VIGIL_ALLOW_TARGETS); the guard is never switched off.
type Guard struct {
	allow  []netip.Prefix
	dialer net.Dialer
}

// GuardOption changes how a Guard dials.
type GuardOption func(*Guard)

// WithResolver makes the guard's dialer resolve names with r. Tests use it to point names at
// addresses under their control; production uses the system resolver.
func WithResolver(r *net.Resolver) GuardOption {
	return func(g *Guard) { g.dialer.Resolver = r }
}

// NewGuard returns a guard that refuses the special-purpose ranges except those inside allow.
func NewGuard(allow []netip.Prefix, opts ...GuardOption) *Guard {
	g := &Guard{allow: make([]netip.Prefix, 0, len(allow))}
	for _, p := range allow {
		if p.IsValid() {
			g.allow = append(g.allow, normalizePrefix(p))
		}
	}
	g.dialer = net.Dialer{
		KeepAlive:      -1, // a check is one short exchange; no TCP keep-alive probes
		ControlContext: g.control,
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Allowed returns a copy of the allow list, for logging the effective configuration.
func (g *Guard) Allowed() []netip.Prefix { return append([]netip.Prefix(nil), g.allow...) }

// ParseAllowList parses VIGIL_ALLOW_TARGETS: a comma-separated list of CIDR prefixes or bare
// addresses ("127.0.0.0/8, 10.1.2.3, fd12::/16"). Empty entries are ignored.
// The syntax is config.ParseAllowTargets', which checks the variable at start; the prefixes
// come back in the form the guard matches.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	out, err := config.ParseAllowTargets(s)
	if err != nil {
		return nil, fmt.Errorf("probe: allow list: %w", err)
	}
	for i, p := range out {
		out[i] = normalizePrefix(p)
	}
	return out, nil
}

// normalizePrefix masks p and turns an IPv4-mapped prefix (::ffff:10.0.0.0/104) into its IPv4
// form, because the guard unmaps addresses before matching.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

func (g *Guard) allowed(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CheckAddr returns an error wrapping ErrBlocked if a is in a refused range and not inside
// the allow list. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry, and
// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses as the IPv4 address they embed.
func (g *Guard) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("probe: invalid address: %w", ErrBlocked)
	}
	a = a.WithZone("").Unmap()
	if g.allowed(a) {
		return nil
	}
	for _, r := range refused {
		if r.prefix.Contains(a) {
			return fmt.Errorf("probe: %s is %s: %w", a, r.name, ErrBlocked)
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64Prefix.Contains(a):
			if err := g.CheckAddr(netip.AddrFrom4([4]byte(b[12:16]))); err != nil {
				return fmt.Errorf("probe: NAT64 address %s: %w", a, err)
			}
		case sixToFour.Contains(a):
			if err := g.CheckAddr(netip.AddrFrom4([4]byte(b[2:6]))); err != nil {
				return fmt.Errorf("probe: 6to4 address %s: %w", a, err)
			}
		}
	}
	return nil
}

// CheckURL refuses, without any DNS lookup, a URL that cannot be a check target: a scheme
// other than http or https, a missing or malformed host, or a host that names a refused
// address once IDNA has normalised it ("１２７。０。０。１"), "localhost", or a cloud metadata
// name. IPv4 addresses are accepted in dotted decimal only: the legacy spellings that some
// resolvers still accept ("2130706433", "0x7f000001", "0177.0.0.1", "127.1") are refused,
// as blocked when any reading of them is a refused address. Names that resolve to a refused
// address pass here and are stopped at dial time.
func (g *Guard) CheckURL(u *url.URL) error {
	if u == nil {
		return fmt.Errorf("probe: no URL: %w", ErrInvalidURL)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return fmt.Errorf("probe: scheme %q is not http or https: %w", u.Scheme, ErrInvalidURL)
	}
	if u.Opaque != "" {
		return fmt.Errorf("probe: URL has no host: %w", ErrInvalidURL)
	}
	return g.checkHost(u.Hostname())
}

// checkHost judges a URL's host as a resolver will receive it: an IPv6 literal as the
// address, anything else after IDNA normalisation (normalizeHost), as a dotted-decimal IPv4
// address, a number in another form (checkNumericHost) or a name.
func (g *Guard) checkHost(host string) error {
	if host == "" {
		return fmt.Errorf("probe: URL has no host: %w", ErrInvalidURL)
	}
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("probe: host is not a valid address: %w", ErrInvalidURL)
		}
		return g.CheckAddr(a)
	}
	h, err := normalizeHost(host)
	if err != nil {
		return err
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Is4() {
		return g.CheckAddr(a)
	}
	if lastPartNumeric(h) {
		return g.checkNumericHost(h)
	}
	if !validName(h) {
		return fmt.Errorf("probe: host has an invalid character: %w", ErrInvalidURL)
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		// RFC 6761: these names always mean the loopback interface.
		if err := g.CheckAddr(loopback4); err != nil {
			return fmt.Errorf("probe: localhost: %w", err)
		}
	}
	if isMetadataHost(h) {
		if err := g.CheckAddr(metadataAddr); err != nil {
			return fmt.Errorf("probe: %s names the cloud metadata service: %w", h, err)
		}
	}
	return nil
}

// control runs for every connect attempt, after DNS, on the address actually dialled.
func (g *Guard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("probe: network %q: %w", network, ErrBlocked)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("probe: dial address %q: %w", address, ErrBlocked)
	}
	return g.CheckAddr(ap.Addr())
}

// DialContext dials like net.Dialer.DialContext, refusing any connection whose resolved
// address the guard refuses. It is the dialer of the Transports that Transport builds; used on
// its own, the connection it returns ends with ctx (see boundConn).
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if req, ok := ctx.Value(requestContextKey{}).(context.Context); ok {
		ctx = req
	}
	conn, err := g.dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return bindConn(ctx, conn), nil
}

// requestContextKey carries a request's own context into the dial made for it. net/http dials
// on a context detached from the request's cancellation and deadline (so that a dial a
// cancelled request started can serve the next one), keeping only its values: without this, a
// target that accepts TCP and never answers the TLS handshake held a socket and two goroutines
// per check forever, and enough such targets exhausted the worker's open files.
type requestContextKey struct{}

// boundTransport puts each request's context where Guard.DialContext finds it.
type boundTransport struct{ *http.Transport }

// RoundTrip runs req with its context in reach of the dialer. A request that failed because
// its context ended (the connection closed under it, a detached dial cut) says so first, so
// that callers see the deadline rather than "use of closed network connection".
func (b boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	resp, err := b.Transport.RoundTrip(req.WithContext(context.WithValue(ctx, requestContextKey{}, ctx)))
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	return resp, err
}

// Transport returns t as a RoundTripper whose every connection passes the guard and lives no
// longer than the request it was dialled for: DNS, connect, the TLS handshake, the request,
// the headers and the body all end by the request context's deadline, and the connection is
// closed then, or when the context is cancelled. t's DialContext and Proxy are replaced (proxy
// environment variables must not redirect checks), and keep-alives are off, since a
// connection that ends with its request cannot serve another.
func (g *Guard) Transport(t *http.Transport) http.RoundTripper {
	t.DialContext = g.DialContext
	t.Proxy = nil
	t.DisableKeepAlives = true
	return boundTransport{t}
}

// bindConn closes conn when ctx ends (its deadline passes or it is cancelled), so that
// whatever runs on the connection, the TLS handshake included, fails then. Closing rather than
// setting the connection's own deadline keeps the order of events simple: the context is
// already done when the connection fails, so a check reads that as its timeout.
func bindConn(ctx context.Context, conn net.Conn) net.Conn {
	if ctx.Done() == nil {
		return conn
	}
	// Whoever uses the connection sees the close as the failure of its read or write; the
	// close's own error has no one to go to.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	return &boundConn{Conn: conn, stop: stop}
}

// boundConn is a connection closed by its context's end; closing it first releases the hook.
type boundConn struct {
	net.Conn
	stop func() bool
}

func (c *boundConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// Client returns an HTTP client for outbound requests to user-supplied URLs other than checks
// (webhooks): every connection passes the guard and ends with its request (see Transport),
// response headers are bounded and at most MaxRedirects redirects are followed, each to an
// http or https URL the guard accepts. timeout bounds the whole request.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: g.Transport(&http.Transport{
			TLSHandshakeTimeout:    timeout,
			MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		}),
		CheckRedirect: g.checkRedirect,
	}
}

// errTooManyRedirects ends a redirect chain longer than MaxRedirects.
var errTooManyRedirects = errors.New("too many redirects")

func (g *Guard) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > monitor.MaxRedirects {
		return errTooManyRedirects
	}
	return g.CheckURL(req.URL)
}
