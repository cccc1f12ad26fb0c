package probe

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRefusedRangeEdges pins every refused range at both ends and inside, and the addresses
// just outside it where those are public, so that a range narrowed, widened or deleted from the
// table fails here. Only public neighbours are listed as open: a neighbour in a reserved block
// the table does not hold yet (100:0:0:1::, fe00::/9) may be refused one day. Each address is also tried in the IPv4-mapped, NAT64 and 6to4 forms that
// carry it. name is the range the refusal must name.
func TestRefusedRangeEdges(t *testing.T) {
	t.Parallel()
	strict := NewGuard(nil)
	tests := []struct {
		name    string
		refused []string
		open    []string // just outside, and public
	}{
		{"cloud metadata", []string{"169.254.169.254", "fd00:ec2::254"}, nil},
		{"unspecified", []string{"0.0.0.0", "0.128.0.1", "0.255.255.255", "::"}, nil},
		{"private", []string{
			"10.0.0.0", "10.128.0.1", "10.255.255.255",
			"172.16.0.0", "172.24.0.1", "172.31.255.255",
			"192.168.0.0", "192.168.128.1", "192.168.255.255",
		}, []string{"9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0"}},
		{"carrier-grade NAT", []string{"100.64.0.0", "100.100.100.200", "100.127.255.255"},
			[]string{"100.63.255.255", "100.128.0.0"}},
		{"loopback", []string{"127.0.0.0", "127.1.2.3", "127.255.255.255", "::1"}, []string{"126.255.255.255", "128.0.0.0"}},
		{"link-local", []string{
			"169.254.0.0", "169.254.0.1", "169.254.169.253", "169.254.170.2", "169.254.255.255",
			"fe80::", "fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		}, []string{"169.253.255.255", "169.255.0.0"}},
		{"IETF protocol assignments", []string{
			"192.0.0.0", "192.0.0.8", "192.0.0.255",
			"2001::", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:100::1", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
		}, []string{"191.255.255.255", "192.0.1.0", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::", "2001:4860::8888"}},
		{"documentation", []string{
			"192.0.2.0", "192.0.2.255", "198.51.100.0", "198.51.100.255", "203.0.113.0", "203.0.113.255",
			"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
			"3fff::", "3fff:abc::1", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
		}, []string{
			"192.0.3.0", "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0",
			"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "3fff:1000::",
		}},
		{"6to4 relay", []string{"192.88.99.0", "192.88.99.1", "192.88.99.255"}, []string{"192.88.98.255", "192.88.100.0"}},
		{"benchmarking", []string{"198.18.0.0", "198.19.255.255"}, []string{"198.17.255.255", "198.20.0.0"}},
		{"multicast", []string{"224.0.0.0", "239.255.255.255", "ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"223.255.255.255"}},
		{"reserved", []string{"240.0.0.0", "250.1.2.3", "255.255.255.255"}, nil},
		{"IPv4-compatible", []string{"::2", "::8.8.8.8", "::ffff:ffff"}, nil},
		{"local NAT64", []string{"64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"}, nil},
		{"discard", []string{"100::", "100::1", "100::ffff:ffff:ffff:ffff"}, nil},
		{"unique-local", []string{"fc00::", "fcff::1", "fd00::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, nil},
		{"site-local", []string{"fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tt.refused {
				for _, a := range carriers(netip.MustParseAddr(s)) {
					err := strict.CheckAddr(a)
					require.ErrorIs(t, err, ErrBlocked, "%s (%s)", a, s)
					require.ErrorContains(t, err, " is "+tt.name+":", "%s (%s)", a, s)
				}
			}
			for _, s := range tt.open {
				for _, a := range carriers(netip.MustParseAddr(s)) {
					require.NoError(t, strict.CheckAddr(a), "%s (%s)", a, s)
				}
			}
		})
	}
}

// carriers returns a and, for an IPv4 address, the IPv6 addresses that the guard judges as it:
// IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
func carriers(a netip.Addr) []netip.Addr {
	if !a.Is4() {
		return []netip.Addr{a}
	}
	b := a.As4()
	mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
	nat64 := netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
	sixToFour := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: b[0], 3: b[1], 4: b[2], 5: b[3], 15: 1})
	return []netip.Addr{a, mapped, nat64, sixToFour}
}
