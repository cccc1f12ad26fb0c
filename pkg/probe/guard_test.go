package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	strict := NewGuard(nil)
	cases := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"172.32.0.1", false},
		{"172.15.255.255", false},
		{"192.168.1.1", true},
		{"169.254.0.1", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"100.128.0.1", false},
		{"192.0.0.170", true},
		{"192.0.2.1", true},
		{"198.51.100.7", true},
		{"203.0.113.9", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"febf::1", true},
		{"fc00::1", true},
		{"fd00::1", true},
		{"fd00:ec2::254", true},
		{"ff02::1", true},
		{"fec0::1", true},
		{"2001:db8::1", true},
		{"2001::1", true}, // Teredo
		{"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:10.1.2.3", true},
		{"::127.0.0.1", true},        // IPv4-compatible
		{"64:ff9b::7f00:1", true},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", false},  // NAT64 of 8.8.8.8
		{"64:ff9b:1::1", true},       // local-use NAT64
		{"2002:7f00:1::1", true},     // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::", true},   // 6to4 of 169.254.169.254
		{"2002:808:808::1", false},   // 6to4 of 8.8.8.8
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"93.184.216.34", false},
		{"::ffff:8.8.8.8", false},
		{"2606:4700:4700::1111", false},
		{"2a00:1450:4001:80b::200e", false},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			err := strict.CheckAddr(netip.MustParseAddr(tc.addr))
			if tc.blocked {
				require.ErrorIs(t, err, ErrBlocked)
			} else {
				require.NoError(t, err)
			}
		})
	}
	t.Run("invalid address", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, strict.CheckAddr(netip.Addr{}), ErrBlocked)
	})
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	allow, err := ParseAllowList(" 127.0.0.0/8, ,10.1.2.3, fd12::/16, ::ffff:192.168.0.0/112")
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.1.2.3/32"),
		netip.MustParsePrefix("fd12::/16"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}, allow)
	g := NewGuard(allow)
	for _, a := range []string{"127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1", "10.1.2.3", "fd12::1", "192.168.7.7", "64:ff9b::7f00:1"} {
		require.NoError(t, g.CheckAddr(netip.MustParseAddr(a)), a)
	}
	for _, a := range []string{"::1", "10.1.2.4", "fd13::1", "169.254.169.254", "172.16.0.1"} {
		require.ErrorIs(t, g.CheckAddr(netip.MustParseAddr(a)), ErrBlocked, a)
	}
	for _, bad := range []string{"127.0.0.0/33", "localhost", "10.0.0.1/8/8", "fe80::1%eth0"} {
		_, err := ParseAllowList(bad)
		require.Error(t, err, bad)
	}
	empty, err := ParseAllowList("")
	require.NoError(t, err)
	require.Empty(t, empty)
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := NewGuard(nil)
	loop := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	cases := []struct {
		url   string
		want  error // nil, ErrBlocked or ErrInvalidURL, for the strict guard
		loop  error // for a guard allowing 127.0.0.0/8
		loopS bool  // loop differs from want
	}{
		{url: "https://example.com/path?q=1"},
		{url: "http://user:pass@example.com:8080/"},
		{url: "http://8.8.8.8/"},
		{url: "http://[2606:4700:4700::1111]:443/"},
		{url: "http://127.0.0.1/", want: ErrBlocked, loopS: true},
		{url: "http://127.0.0.2:8080/", want: ErrBlocked, loopS: true},
		{url: "http://localhost:3000/", want: ErrBlocked, loopS: true},
		{url: "http://LOCALHOST./", want: ErrBlocked, loopS: true},
		{url: "http://api.localhost/", want: ErrBlocked, loopS: true},
		// Legacy spellings: refused as what they mean, and never accepted even when the
		// allow list opens that address, since resolvers disagree about them (host_test.go).
		{url: "http://2130706433/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://0x7f000001/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://0X7F.0.0.1/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://0177.0.0.1/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://0177.1/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://127.1/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://127.0.1/", want: ErrBlocked, loop: ErrInvalidURL},
		{url: "http://127.0.0.1./", want: ErrBlocked, loopS: true},
		{url: "http://[::1]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[::ffff:127.0.0.1]/", want: ErrBlocked, loopS: true},
		{url: "http://[::ffff:169.254.169.254]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[::ffff:a9fe:a9fe]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://169.254.169.254/latest/meta-data/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://2852039166/", want: ErrBlocked, loop: ErrBlocked}, // 169.254.169.254
		{url: "http://0xa9.0xfe.0xa9.0xfe/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://0251.0376.0251.0376/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[fd00:ec2::254]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://10.0.0.1/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://012.1/", want: ErrBlocked, loop: ErrBlocked}, // 10.0.0.1
		{url: "http://172.16.5.4/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://192.168.0.1/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://100.64.0.1/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://0.0.0.0/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://0/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[::]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[fe80::1%25eth0]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[fd00::1]/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://[64:ff9b::7f00:1]/", want: ErrBlocked, loopS: true},
		{url: "http://255.255.255.255/", want: ErrBlocked, loop: ErrBlocked},
		{url: "http://224.0.0.1/", want: ErrBlocked, loop: ErrBlocked},
		{url: "ftp://example.com/", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "file:///etc/passwd", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "gopher://127.0.0.1:6379/", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "javascript:alert(1)", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "http:example.com", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "http:///path", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "http://1.2.3.4.5/", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "http://999.1.1.1/", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "http://example.0x/", want: ErrInvalidURL, loop: ErrInvalidURL},
		{url: "http://8.8.8.8.nip.io/"}, // a name: judged at dial time
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.url)
			require.NoError(t, err)
			check := func(g *Guard, want error) {
				t.Helper()
				err := g.CheckURL(u)
				if want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, want)
				}
			}
			check(strict, tc.want)
			if tc.loopS {
				check(loop, nil)
			} else {
				check(loop, tc.loop)
			}
		})
	}
	require.ErrorIs(t, strict.CheckURL(nil), ErrInvalidURL)
}

func TestParseLegacyIPv4(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    string // "" when not an address
		numeric bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"0x7f000001", "127.0.0.1", true},
		{"017700000001", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"127.0.1", "127.0.0.1", true},
		{"0x7f.0x0.0x0.0x1", "127.0.0.1", true},
		{"1.65535", "1.0.255.255", true},
		{"1.65536", "1.1.0.0", true},
		{"1.16777216", "", true},
		{"1.1.65536", "", true},
		{"4294967295", "255.255.255.255", true},
		{"4294967296", "", true},
		{"99999999999999999999999999", "", true},
		{"256.1.1.1", "", true},
		{"08.1.1.1", "", true}, // 08 is no octal number, so no address, but it ends in a number
		{"example.com", "", false},
		{"1.2.3.4.5", "", true},
		{"a.1", "", true},
		{"1.a", "", false},
		{"0x", "0.0.0.0", true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			a, numeric, ok := parseLegacyIPv4(tc.in)
			if tc.want == "" {
				require.False(t, ok)
			} else {
				require.True(t, ok)
				require.Equal(t, tc.want, a.String())
			}
			require.Equal(t, tc.numeric, numeric)
		})
	}
}

// TestGuardDial shows the refusal at connect time: the dial of a refused address fails with
// ErrBlocked before any packet is sent, even to a listening port.
func TestGuardDial(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ln.Close()) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	strict := NewGuard(nil)
	_, err = strict.DialContext(context.Background(), "tcp", ln.Addr().String())
	require.ErrorIs(t, err, ErrBlocked)

	open := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	c, err := open.DialContext(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, c.Close())

	_, err = open.DialContext(context.Background(), "udp", ln.Addr().String())
	require.ErrorIs(t, err, ErrBlocked)

	// The guarded client refuses too: the webhook path.
	_, err = strict.Client(0).Get("http://" + ln.Addr().String())
	require.ErrorIs(t, err, ErrBlocked)
	require.False(t, errors.Is(err, ErrInvalidURL))
}

// TestGuardClient covers the webhook client: redirects are bounded and each one passes the
// guard.
func TestGuardClient(t *testing.T) {
	t.Parallel()
	c := NewGuard(allowLoopback1).Client(5 * time.Second)

	resp, err := c.Get(newServer(t, countdown(10)).URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = c.Get(newServer(t, countdown(11)).URL)
	require.ErrorIs(t, err, errTooManyRedirects)

	_, err = c.Get(newServer(t, http.RedirectHandler("http://127.0.0.2:9/", http.StatusFound)).URL)
	require.ErrorIs(t, err, ErrBlocked)

	_, err = c.Get(newServer(t, http.RedirectHandler("file:///etc/passwd", http.StatusFound)).URL)
	require.Error(t, err)
}
