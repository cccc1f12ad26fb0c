package probe

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Hosts are judged after IDNA normalisation, as a resolver receives them: Unicode look-alikes
// of a refused address are refused as that address, hosts that are no name at all are
// invalid, numbers in a form that resolvers disagree about are never accepted, and the
// clouds' metadata names are refused like the metadata address.
func TestCheckHostNormalised(t *testing.T) {
	t.Parallel()
	strict := NewGuard(nil)
	loop := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	meta := NewGuard([]netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")})
	cases := []struct {
		host string
		want error // for the strict guard
		loop error // for a guard allowing 127.0.0.0/8
	}{
		// Names that stay names.
		{host: "example.com"},
		{host: "EXAMPLE.com."},
		{host: "bücher.example"},
		{host: "xn--bcher-kva.example"},
		{host: "ＥＸＡＭＰＬＥ．ｃｏｍ"},
		{host: "my_host.example.com"},
		{host: "8.8.8.8.nip.io"},
		{host: "1e100.net"},

		// Full-width digits, ideographic and other full stops: the address they spell.
		{host: "１２７.０.０.１", want: ErrBlocked},
		{host: "127。0。0。1", want: ErrBlocked},
		{host: "127．0．0．1", want: ErrBlocked},
		{host: "127｡0｡0｡1", want: ErrBlocked},
		{host: "１６９.２５４.１６９.２５４", want: ErrBlocked, loop: ErrBlocked},
		{host: "１０.０.０.１", want: ErrBlocked, loop: ErrBlocked},
		{host: "０ｘ７ｆ.１", want: ErrBlocked, loop: ErrInvalidURL},
		{host: "ｌｏｃａｌｈｏｓｔ", want: ErrBlocked},
		{host: "ＬＯＣＡＬＨＯＳＴ", want: ErrBlocked},
		{host: "api.ｌｏｃａｌｈｏｓｔ", want: ErrBlocked},
		{host: "8.8.8.8"},
		{host: "８.８.８.８"},

		// Numbers that are no dotted-decimal address: refused as the worst thing they may
		// mean, and never accepted.
		{host: "00000127.0.0.1", want: ErrBlocked, loop: ErrInvalidURL},
		{host: "0127.0.0.1", want: ErrBlocked, loop: ErrInvalidURL},
		{host: "127.000.000.001", want: ErrBlocked, loop: ErrInvalidURL},
		{host: "010.0.0.1", want: ErrBlocked, loop: ErrBlocked}, // 8.0.0.1 in octal, 10.0.0.1 in decimal
		{host: "0169.0254.0169.0254", want: ErrBlocked, loop: ErrBlocked},
		{host: "134744072", want: ErrInvalidURL, loop: ErrInvalidURL}, // 8.8.8.8 in decimal
		{host: "0x08080808", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "08.8.8.8", want: ErrInvalidURL, loop: ErrInvalidURL}, // no octal reading
		{host: "1.2.3.4.5", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "example.0x", want: ErrInvalidURL, loop: ErrInvalidURL},

		// No host name at all.
		{host: "a<b.example", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "ａ＜ｂ.example", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a>b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a\"b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a'b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a`b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a{b}", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a|b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a^b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a%b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a*b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a\x00b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a\tb", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a\\b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a/b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a@b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a..b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: ".example.com", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "-a.example", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a-.example", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "xn--", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "xn--a.example", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "\xff.example", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "ex\u202eample.com", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "ex\u200dample.com", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a\u2028b", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "ａ／ｂ", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: "a." + strings.Repeat("a", 64), want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: strings.Repeat("a.", 127) + "aa", want: ErrInvalidURL, loop: ErrInvalidURL},
		{host: ".", want: ErrInvalidURL, loop: ErrInvalidURL},

		// The clouds' metadata names.
		{host: "metadata.google.internal", want: ErrBlocked, loop: ErrBlocked},
		{host: "METADATA.google.internal.", want: ErrBlocked, loop: ErrBlocked},
		{host: "ｍｅｔａｄａｔａ．ｇｏｏｇｌｅ．ｉｎｔｅｒｎａｌ", want: ErrBlocked, loop: ErrBlocked},
		{host: "metadata.goog", want: ErrBlocked, loop: ErrBlocked},
		{host: "metadata", want: ErrBlocked, loop: ErrBlocked},
		{host: "instance-data", want: ErrBlocked, loop: ErrBlocked},
		{host: "instance-data.ec2.internal", want: ErrBlocked, loop: ErrBlocked},
		{host: "instance-data.eu-west-1.compute.internal", want: ErrBlocked, loop: ErrBlocked},
		{host: "metadata.example.com"},
		{host: "instance-data.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			u := &url.URL{Scheme: "http", Host: tc.host, Path: "/"}
			for _, g := range []struct {
				guard *Guard
				want  error
			}{{strict, tc.want}, {loop, tc.loop}} {
				err := g.guard.CheckURL(u)
				if g.want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, g.want)
				}
			}
		})
	}

	// The metadata names follow the address: an allow list that opens it opens them.
	require.NoError(t, meta.CheckURL(&url.URL{Scheme: "http", Host: "metadata.google.internal"}))
}

// A URL that spells a refused address with escapes or Unicode is refused as that address
// after url.Parse, which is how the API and the worker receive it.
func TestCheckURLParsedHosts(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil)
	for _, raw := range []string{
		"http://%ef%bc%91%ef%bc%92%ef%bc%97.0.0.1/",
		"http://127%E3%80%820%E3%80%820%E3%80%821/",
		"http://１２７.０.０.１:8080/",
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://00000127.0.0.1/",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		require.ErrorIs(t, g.CheckURL(u), ErrBlocked, raw)
	}
}
