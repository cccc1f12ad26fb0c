package probe

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// hostProfile maps a host name the way browsers and net/http do before a lookup (UTS #46:
// case folding, full-width forms, ideographic full stops, punycode, bidi and joiner rules).
// STD3's ASCII rule is left to validName, which allows the underscore that real names use.
var hostProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false), idna.BidiRule())

// maxHostBytes is the longest name DNS carries (RFC 1035), in its dotted form.
const maxHostBytes = 253

// metadataAddr is the cloud metadata address that metadataHosts resolve to.
var metadataAddr = netip.AddrFrom4([4]byte{169, 254, 169, 254})

// isMetadataHost reports whether h is a name under which a cloud publishes its instance
// metadata service:
// Google Compute Engine's metadata.google.internal, metadata.goog and the bare "metadata" its
// resolvers complete, and AWS EC2's instance-data (completed to instance-data.ec2.internal or
// instance-data.<region>.compute.internal). Azure, Oracle, DigitalOcean and Alibaba publish
// addresses only, which the refused ranges cover. The names resolve to the metadata address,
// which the dial-time guard refuses anyway; refusing them here says so when the website is
// saved instead of at the first check.
func isMetadataHost(h string) bool {
	switch h {
	case "metadata", "metadata.google.internal", "metadata.goog", "instance-data":
		return true
	}
	return strings.HasPrefix(h, "instance-data.") && strings.HasSuffix(h, ".internal")
}

// normalizeHost returns the ASCII form that a URL's host name is looked up under, lower-case
// and without a trailing dot: "１２７。０。０。１" is "127.0.0.1" and "Bücher.DE" is
// "xn--bcher-kva.de". The guard judges this form, because it is what a resolver receives,
// whatever the URL spelled.
func normalizeHost(host string) (string, error) {
	if !utf8.ValidString(host) {
		return "", fmt.Errorf("probe: host is not valid UTF-8: %w", ErrInvalidURL)
	}
	h, err := hostProfile.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("probe: host is not a valid domain name: %w", ErrInvalidURL)
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", fmt.Errorf("probe: URL has no host: %w", ErrInvalidURL)
	}
	return h, nil
}

// validName reports whether h, a normalised host, is a name that a resolver looks up as
// written: at most maxHostBytes, dot-separated labels of 1 to 63 letters, digits, hyphens
// and underscores (IDNA has refused leading and trailing hyphens). Anything else ("a<b",
// "a..b", "a%b") is no host name, whatever a lenient parser would make of it.
func validName(h string) bool {
	if len(h) > maxHostBytes {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// checkNumericHost judges a host that ends in a number but is no dotted-decimal IPv4
// address: "2130706433", "0x7f.1", "0177.0.0.1", "00000127.0.0.1". Resolvers disagree about
// such hosts (inet_aton and browsers read a leading 0 as octal, others as decimal, Go's own
// resolver as a name), so none is accepted. The error wraps ErrBlocked if any reading names a
// refused address, so that the message says what the host would reach, and ErrInvalidURL
// otherwise.
func (g *Guard) checkNumericHost(h string) error {
	legacy, _, legacyOK := parseLegacyIPv4(h)
	dec, decOK := decimalIPv4(h)
	for _, r := range []struct {
		addr netip.Addr
		ok   bool
	}{{legacy, legacyOK}, {dec, decOK}} {
		if !r.ok {
			continue
		}
		if err := g.CheckAddr(r.addr); err != nil {
			return err
		}
	}
	if !legacyOK {
		// "1.2.3.4.5", "999.1.1.1": browsers refuse such hosts.
		return fmt.Errorf("probe: host is neither a name nor an IPv4 address: %w", ErrInvalidURL)
	}
	if decOK && dec != legacy {
		return fmt.Errorf("probe: host %q is an IPv4 address in a non-standard form that resolvers read as %s or as %s; write the one meant in dotted decimal: %w", h, legacy, dec, ErrInvalidURL)
	}
	return fmt.Errorf("probe: host %q is an IPv4 address in a non-standard form; write it as %s: %w", h, legacy, ErrInvalidURL)
}

// decimalIPv4 reads h as the parsers that ignore leading zeros do: "0127.0.0.1" is
// 127.0.0.1, not the octal 87.0.0.1. ok is false unless every part is decimal digits.
func decimalIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return netip.Addr{}, false
		}
		if parts[i] = strings.TrimLeft(p, "0"); parts[i] == "" {
			parts[i] = "0"
		}
	}
	a, _, ok := parseLegacyIPv4(strings.Join(parts, "."))
	return a, ok
}
