package probe

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// Limits on a website's custom request headers.
const (
	MaxHeaders          = 50
	MaxHeaderValueBytes = 8 << 10
)

// ErrInvalidHeader is wrapped by CheckHeaders' refusals.
var ErrInvalidHeader = errors.New("invalid request header")

// hopByHop are headers that describe the connection, not the request. A check must not set
// them: they could smuggle a second request or change framing (Transfer-Encoding,
// Content-Length), and the transport owns them.
var hopByHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Content-Length":      true,
	"Expect":              true,
	"Http2-Settings":      true,
}

// CheckHeaders refuses custom request headers that could inject or smuggle anything: names
// that are not RFC 9110 tokens, values with CR, LF, NUL or other control characters,
// hop-by-hop and framing headers, and more than MaxHeaders headers or values longer than
// MaxHeaderValueBytes. The API calls it to answer 422; the probe calls it again so that a job
// that bypassed the API is down with reason "invalid" rather than sent.
func CheckHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return fmt.Errorf("probe: more than %d headers: %w", MaxHeaders, ErrInvalidHeader)
	}
	for name, value := range h {
		if name == "" || len(name) > 256 {
			return fmt.Errorf("probe: header name length: %w", ErrInvalidHeader)
		}
		for i := 0; i < len(name); i++ {
			if !isTokenChar(name[i]) {
				return fmt.Errorf("probe: header name %q is not a token: %w", safeName(name), ErrInvalidHeader)
			}
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if hopByHop[canon] {
			return fmt.Errorf("probe: header %s is hop-by-hop and cannot be set: %w", canon, ErrInvalidHeader)
		}
		if len(value) > MaxHeaderValueBytes {
			return fmt.Errorf("probe: header %s is longer than %d bytes: %w", canon, MaxHeaderValueBytes, ErrInvalidHeader)
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
				return fmt.Errorf("probe: header %s has a control character: %w", canon, ErrInvalidHeader)
			}
		}
	}
	return nil
}

// safeName quotes at most 64 bytes of a rejected header name.
func safeName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}
