package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// specRefused is the guard's refused set written out again, independently of guard.go, as the
// oracle of the fuzz target: the ranges of DESIGN.md and issue 7 plus IANA's special-purpose
// registry.
var specRefused = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/127", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

func specIsRefused(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range specRefused {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// oracleIPv4 parses the legacy IPv4 forms with strconv, a different route from
// parseLegacyIPv4.
func oracleIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" || strings.ContainsAny(p, "+-_") {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var v uint64
	for i, x := range vals {
		if i < len(vals)-1 {
			if x > 255 {
				return netip.Addr{}, false
			}
			v |= x << (8 * (3 - i))
		} else {
			if x >= 1<<(8*(5-len(vals))) {
				return netip.Addr{}, false
			}
			v |= x
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// offlineResolver resolves only what needs no network: literals and the hosts file.
var offlineResolver = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("offline")
	},
}

// FuzzCheckURL checks that CheckURL never panics and never accepts a URL whose host is, in any
// spelling a resolver accepts, a refused address.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "https://127.0.0.1/", "http://2130706433/", "http://0x7f000001/",
		"http://0177.0.0.1/", "http://127.1/", "http://[::1]/", "http://[::ffff:169.254.169.254]/",
		"http://localhost/", "http://10.0.0.1./", "ftp://8.8.8.8/", "http://[fe80::1%25eth0]:80/",
		"http://8.8.8.8/", "http://0/", "http://0x/", "http://1.2.3.4.5/",
	} {
		f.Add(s)
	}
	g := NewGuard(nil)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if g.CheckURL(u) != nil {
			return
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if a, err := netip.ParseAddr(host); err == nil && specIsRefused(a) {
			t.Fatalf("accepted %q: host %s is refused", raw, a)
		}
		if a, ok := oracleIPv4(host); ok && specIsRefused(a) {
			t.Fatalf("accepted %q: host %q is %s, refused", raw, host, a)
		}
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			t.Fatalf("accepted %q: localhost", raw)
		}
		if len(host) < 256 && !strings.ContainsAny(host, "\x00") {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addrs, err := offlineResolver.LookupNetIP(ctx, "ip", host)
			if err == nil {
				for _, a := range addrs {
					if specIsRefused(a) {
						t.Fatalf("accepted %q: host %q resolves offline to %s", raw, host, a)
					}
				}
			}
		}
	})
}

// FuzzCheckHeaders checks that every header CheckHeaders accepts is one the HTTP/1.1 writer
// accepts too, and carries no line break that could inject a second header or request; and
// that every header the HTTP/1.1 writer accepts, within the length limits and not hop-by-hop
// (specHopByHop), is accepted.
func FuzzCheckHeaders(f *testing.F) {
	for _, s := range [][2]string{
		{"X-Api-Key", "secret"}, {"X-A", "b\r\nBcc: victim@example.com"}, {"Transfer-Encoding", "chunked"},
		{"Host", "example.com"}, {"X A", "b"}, {"X-A", "tab\tok"}, {"X-A", "\x00"}, {"Connection", "close"},
		{"Authorization", "Bearer xyz"}, {"", "x"}, {"Content-Length", "0"}, {"upgrade", "h2c"},
		{"TE", "trailers"}, {"HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA"}, {"X-A", "caf\xc3\xa9"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		err := CheckHeaders(map[string]string{name: value})
		valid := len(name) <= 256 && httpguts.ValidHeaderFieldName(name) &&
			len(value) <= MaxHeaderValueBytes && httpguts.ValidHeaderFieldValue(value) &&
			!slices.Contains(specHopByHop, textproto.CanonicalMIMEHeaderKey(name))
		if valid && err != nil {
			t.Fatalf("refused header %q: %q that is valid: %v", name, value, err)
		}
		if err != nil {
			return
		}
		if !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			t.Fatalf("accepted header %q: %q that HTTP/1.1 refuses", name, value)
		}
		if strings.ContainsAny(name+value, "\r\n\x00") {
			t.Fatalf("accepted a line break or NUL in %q: %q", name, value)
		}
		if slices.Contains(specHopByHop, textproto.CanonicalMIMEHeaderKey(name)) {
			t.Fatalf("accepted hop-by-hop header %q", name)
		}
	})
}
