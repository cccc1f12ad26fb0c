package httpapi

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// CodeTooManyRequests is the error code of a 429.
const CodeTooManyRequests = "too_many_requests"

// DefaultAuthFailClients bounds how many client addresses the failed-authentication limiter
// remembers. Each costs about 200 bytes, so the default is at most a few megabytes whatever an
// attacker sends.
const DefaultAuthFailClients = 10_000

// authFailLimiter counts failed authentications per client address, in a token bucket of
// limit tokens refilled over a minute (golang.org/x/time/rate): a client may fail limit times
// in a burst, then once every minute/limit. A client whose bucket is empty gets 429 on every
// request that presents credentials, right ones included, until a token is back, so that
// guessing an API key (an operator-chosen VIGIL_API_KEY can be weak) costs minutes per
// handful of guesses.
//
// Memory is bounded: the limiter keeps at most maxClients addresses and forgets the least
// recently seen one first. An attacker who controls more addresses than that can make it forget
// its own, but each address still gets only limit guesses per minute. IPv6 clients are counted
// per /64, since anyone with one IPv6 address has the whole /64.
type authFailLimiter struct {
	limit      int
	every      rate.Limit
	maxClients int
	now        func() time.Time

	mu      sync.Mutex
	lru     *list.List // of *authFailEntry, most recently seen first
	clients map[string]*list.Element
}

type authFailEntry struct {
	client string
	bucket *rate.Limiter
}

// newAuthFailLimiter returns a limiter of limit failures per minute per client, or nil (no
// limit) when limit is 0 or less.
func newAuthFailLimiter(limit, maxClients int, now func() time.Time) *authFailLimiter {
	if limit <= 0 {
		return nil
	}
	if maxClients <= 0 {
		maxClients = DefaultAuthFailClients
	}
	if now == nil {
		now = time.Now
	}
	return &authFailLimiter{
		limit:      limit,
		every:      rate.Limit(float64(limit) / time.Minute.Seconds()),
		maxClients: maxClients,
		now:        now,
		lru:        list.New(),
		clients:    map[string]*list.Element{},
	}
}

// clientKey is the unit the limiter counts: an IPv4 address, an IPv6 /64, or (when the address
// cannot be parsed, which echo's extractors do not produce) the first bytes of what was given.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return truncate(ip)
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// retryAfter returns how long the client must wait before it may present credentials again,
// or 0 when it may now.
func (l *authFailLimiter) retryAfter(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.clients[clientKey(ip)]
	if !ok {
		return 0
	}
	l.lru.MoveToFront(el)
	tokens := el.Value.(*authFailEntry).bucket.TokensAt(l.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
}

// fail records one failed authentication of the client.
func (l *authFailLimiter) fail(ip string) {
	key := clientKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.clients[key]
	if ok {
		l.lru.MoveToFront(el)
	} else {
		for l.lru.Len() >= l.maxClients {
			oldest := l.lru.Back()
			delete(l.clients, oldest.Value.(*authFailEntry).client)
			l.lru.Remove(oldest)
		}
		el = l.lru.PushFront(&authFailEntry{client: key, bucket: rate.NewLimiter(l.every, l.limit)})
		l.clients[key] = el
	}
	el.Value.(*authFailEntry).bucket.AllowN(now, 1)
}

// size is how many clients the limiter remembers.
func (l *authFailLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// presentsCredentials reports whether a request tries to authenticate with something that
// could be guessed: an Authorization header on any route, or the login form's API key. A
// session cookie is not counted: its token has 256 random bits, and a dashboard tab left open
// after its session expired must not lock its user out of the login form.
func presentsCredentials(c echo.Context) bool {
	if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		return true
	}
	return c.Request().Method == http.MethodPost && c.Path() == "/login"
}

// limitAuthFailures answers 429, with Retry-After, to a client that failed to authenticate too
// often, and counts each 401 of a request that presented credentials. It runs after routing
// (echo's Use), so that c.Path() is the route pattern.
func (s *Server) limitAuthFailures(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.authFails == nil || !presentsCredentials(c) {
			return next(c)
		}
		ip := c.RealIP()
		if wait := s.authFails.retryAfter(ip); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
				Message: fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs)}
		}
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = errorResponse(err).Status
		}
		if status == http.StatusUnauthorized {
			s.authFails.fail(ip)
			s.log.Info("httpapi: authentication failed", "remote_ip", ip, "route", c.Path())
		}
		return err
	}
}

// ipExtractor decides which address a request comes from. Without trusted proxies it is the
// TCP peer, which a client cannot forge; X-Forwarded-For is believed only from the proxies
// listed (VIGIL_TRUSTED_PROXIES), so that an attacker cannot dodge the limiter by inventing a
// new address per request.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
