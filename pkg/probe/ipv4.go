package probe

import "net/netip"

// parseLegacyIPv4 parses the IPv4 spellings that inet_aton and the WHATWG URL standard accept
// beyond dotted decimal: one to four parts, each decimal, octal (leading 0) or hexadecimal
// (0x), the last part filling the remaining bytes ("127.1", "2130706433", "0x7f.0.0.1",
// "0177.0.0.1"). numeric reports whether the host ends in a number, in which case a host that
// fails to parse is no valid host at all rather than a DNS name.
func parseLegacyIPv4(h string) (addr netip.Addr, numeric, ok bool) {
	if h == "" {
		return netip.Addr{}, false, false
	}
	var parts [4]uint64
	n := 0
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			continue
		}
		if n == 4 {
			// A fifth part: numeric if it is a number.
			_, isNum := parseIPv4Part(h[start:])
			return netip.Addr{}, isNum || lastPartNumeric(h), false
		}
		v, isNum := parseIPv4Part(h[start:i])
		if !isNum {
			return netip.Addr{}, lastPartNumeric(h), false
		}
		parts[n] = v
		n++
		start = i + 1
	}
	for i := 0; i < n-1; i++ {
		if parts[i] > 255 {
			return netip.Addr{}, true, false
		}
	}
	last := parts[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, true, false
	}
	var v uint32
	for i := 0; i < n-1; i++ {
		v |= uint32(parts[i]) << (8 * (3 - i))
	}
	v |= uint32(last)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, true
}

// lastPartNumeric reports whether the last dot-separated part of h (ignoring one empty
// trailing part) is a number in any of the legacy bases.
func lastPartNumeric(h string) bool {
	end := len(h)
	if end > 0 && h[end-1] == '.' {
		end--
	}
	start := end
	for start > 0 && h[start-1] != '.' {
		start--
	}
	_, ok := parseIPv4Part(h[start:end])
	return ok
}

// parseIPv4Part parses one part in base 16 (0x prefix), 8 (leading 0) or 10. Values above
// 2^32 are clamped so that long digit strings cannot overflow; they fail the range check.
func parseIPv4Part(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true // "0x" is zero, as in WHATWG
		}
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 1<<32 {
			v = 1 << 33
		}
	}
	return v, true
}
