package probe

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllowListEntries opens one entry at a time and checks that exactly what it names is
// opened: a bare address opens that address only, in IPv6 as in IPv4, and an IPv4-mapped
// prefix opens the IPv4 addresses it maps.
func TestAllowListEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		entry  string
		want   string // the parsed prefix
		opened []string
		closed []string
	}{
		{"fd12::1", "fd12::1/128",
			[]string{"fd12::1"},
			[]string{"fd12::", "fd12::2", "fd12::1:1", "fd12:0:0:1::1", "fd13::1"}},
		{"fd12::1/128", "fd12::1/128", []string{"fd12::1"}, []string{"fd12::2"}},
		{"fe80::1", "fe80::1/128", []string{"fe80::1", "fe80::1%eth0"}, []string{"fe80::2"}},
		{"fd12::/16", "fd12::/16",
			[]string{"fd12::", "fd12:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"fd11:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fd13::"}},
		{"fd12::abcd/16", "fd12::/16", []string{"fd12:1::"}, []string{"fd13::"}},
		{"10.1.2.3", "10.1.2.3/32", []string{"10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::a01:203"},
			[]string{"10.1.2.2", "10.1.2.4"}},
		{"::ffff:10.1.2.3", "10.1.2.3/32", []string{"10.1.2.3"}, []string{"10.1.2.4"}},
		{"::ffff:192.168.0.0/112", "192.168.0.0/16",
			[]string{"192.168.0.0", "192.168.255.255"}, []string{"10.0.0.1", "172.16.0.1"}},
		{"::ffff:0.0.0.0/96", "0.0.0.0/0", []string{"10.0.0.1", "127.0.0.1", "169.254.169.254"},
			[]string{"::1", "fd00::1"}},
		{"10.0.0.0/8", "10.0.0.0/8", []string{"10.0.0.0", "10.255.255.255"}, []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			t.Parallel()
			allow, err := ParseAllowList(tt.entry)
			require.NoError(t, err)
			require.Equal(t, []netip.Prefix{netip.MustParsePrefix(tt.want)}, allow)
			g := NewGuard(allow)
			require.Equal(t, allow, g.Allowed())
			for _, a := range tt.opened {
				require.NoError(t, g.CheckAddr(netip.MustParseAddr(a)), a)
			}
			for _, a := range tt.closed {
				require.ErrorIs(t, g.CheckAddr(netip.MustParseAddr(a)), ErrBlocked, a)
			}
		})
	}
}

// TestNewGuardPrefixes shows that NewGuard, like ParseAllowList, masks prefixes, unmaps
// IPv4-mapped ones and drops the zero Prefix.
func TestNewGuardPrefixes(t *testing.T) {
	t.Parallel()
	g := NewGuard([]netip.Prefix{
		{},
		netip.MustParsePrefix("10.1.2.3/16"),
		netip.MustParsePrefix("::ffff:172.16.0.0/108"),
		netip.MustParsePrefix("fd12::1/128"),
	})
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("fd12::1/128"),
	}, g.Allowed())
	require.NoError(t, g.CheckAddr(netip.MustParseAddr("172.31.0.1")))
	require.ErrorIs(t, g.CheckAddr(netip.MustParseAddr("fd12::2")), ErrBlocked)
	require.Empty(t, NewGuard(nil).Allowed())
}
