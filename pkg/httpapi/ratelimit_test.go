package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestAuthFailLimiterBucket(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	l := newAuthFailLimiter(10, 0, clock.Now)
	for i := range 10 {
		require.Zero(t, l.retryAfter("192.0.2.7"), "failure %d is within the burst", i)
		l.fail("192.0.2.7")
	}
	wait := l.retryAfter("192.0.2.7")
	require.InDelta(t, 6*time.Second, wait, float64(time.Millisecond), "one token every minute/10")
	require.Zero(t, l.retryAfter("192.0.2.8"), "another client is not affected")

	clock.Add(wait)
	require.Zero(t, l.retryAfter("192.0.2.7"), "a token is back")
	l.fail("192.0.2.7")
	require.Positive(t, l.retryAfter("192.0.2.7"))

	require.Nil(t, newAuthFailLimiter(0, 0, nil), "0 turns the limit off")
}

func TestAuthFailLimiterKeys(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // one /64
		{"::ffff:192.0.2.1", "192.0.2.1"},           // mapped is the IPv4 address
		{"fe80::1%eth0", "fe80::2"},                 // zones do not make new clients
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, clientKey(tt.a), clientKey(tt.b))
		})
	}
	require.NotEqual(t, clientKey("2001:db8:1:2::1"), clientKey("2001:db8:1:3::1"))
	require.NotEqual(t, clientKey("192.0.2.1"), clientKey("192.0.2.2"))
}

// The limiter never remembers more than maxClients addresses, however many fail.
func TestAuthFailLimiterMemoryBounded(t *testing.T) {
	t.Parallel()
	l := newAuthFailLimiter(1, 100, nil)
	for i := range 10_000 {
		l.fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String())
	}
	require.Equal(t, 100, l.size())
	require.Positive(t, l.retryAfter("10.0.39.15"), "the most recent clients are remembered")
	require.Zero(t, l.retryAfter("10.0.0.1"), "the oldest were forgotten")
}

func TestIPExtractor(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("X-Forwarded-For", "198.51.100.9, 203.0.113.5")
	req.Header.Set("X-Real-IP", "198.51.100.10")
	require.Equal(t, "10.1.2.3", ipExtractor(nil)(req), "no trusted proxy: the peer, whatever the headers say")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	require.Equal(t, "203.0.113.5", ipExtractor(trusted)(req), "the nearest address the trusted proxy saw")
	req.RemoteAddr = "192.168.1.1:5555"
	require.Equal(t, "192.168.1.1", ipExtractor(trusted)(req), "an untrusted peer's header is ignored")
}

// Through the API: after the limit, 429 with Retry-After on every request with credentials,
// valid ones included; the clock brings them back; a forged X-Forwarded-For does not dodge it.
func TestAuthFailuresRateLimited(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	a := newTestAPI(t, func(p *Params) { p.AuthFailLimit = 3; p.Now = clock.Now })
	bad := func(i int) response {
		req, err := http.NewRequest(http.MethodGet, a.http.URL+"/websites", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer vgl_guess"+strconv.Itoa(i))
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		resp, err := a.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return response{Status: resp.StatusCode, Header: resp.Header}
	}
	for i := range 3 {
		require.Equal(t, http.StatusUnauthorized, bad(i).Status)
	}
	r := bad(4)
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	require.Equal(t, "20", r.Header.Get("Retry-After"), "one failure per 20 s at 3 a minute")

	r = a.do(http.MethodGet, "/websites", "")
	require.Equal(t, http.StatusTooManyRequests, r.Status, "a right key waits too, or guessing would tell")
	code, _ := r.Err(t)
	require.Equal(t, CodeTooManyRequests, code)

	// Requests without credentials, public routes and the dashboard's cookie are not blocked.
	require.Equal(t, http.StatusOK, a.doKey(http.MethodGet, "/healthz", "", "").Status)
	require.Equal(t, http.StatusUnauthorized, a.doKey(http.MethodGet, "/websites", "", "").Status)

	// The login form counts too.
	resp, err := a.client.PostForm(a.http.URL+"/login", map[string][]string{"key": {"vgl_guess"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)

	clock.Add(20 * time.Second)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/websites", "").Status)
	require.Equal(t, http.StatusUnauthorized, bad(5).Status)
	require.Equal(t, http.StatusTooManyRequests, bad(6).Status)
}

// Wrong keys pasted into the login form are failures like wrong Bearer keys.
func TestLoginFailuresRateLimited(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, func(p *Params) { p.AuthFailLimit = 2 })
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	login := func(key string) int {
		resp, err := c.Get(a.http.URL + "/login")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
		require.Len(t, csrf, 2)
		resp, err = c.PostForm(a.http.URL+"/login", url.Values{"key": {key}, "csrf": {csrf[1]}})
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, login("vgl_a"))
	require.Equal(t, http.StatusUnauthorized, login("vgl_b"))
	require.Equal(t, http.StatusTooManyRequests, login(a.key))
}
