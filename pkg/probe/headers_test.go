package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// specHopByHop lists the headers a check must not set, written out again independently of
// headers.go: the connection-specific headers of RFC 9110 section 7.6.1 and RFC 9113, the
// framing headers and the proxy credentials.
var specHopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect", "Http2-Settings",
}

type headerCase struct {
	name    string
	headers map[string]string
	ok      bool
}

func TestCheckHeaders(t *testing.T) {
	t.Parallel()
	many := func(n int) map[string]string {
		h := make(map[string]string, n)
		for i := range n {
			h[fmt.Sprintf("X-H%d", i)] = "v"
		}
		return h
	}
	tests := []headerCase{
		{"none", nil, true},
		{"bearer token with a space", map[string]string{"Authorization": "Bearer xyz"}, true},
		{"tab in a value", map[string]string{"X-A": "a\tb"}, true},
		{"obs-text in a value", map[string]string{"X-A": "caf\xc3\xa9"}, true},
		{"empty value", map[string]string{"X-A": ""}, true},
		{"every token character in a name", map[string]string{"!#$%&'*+-.^_`|~09azAZ": "v"}, true},
		{"one-byte name", map[string]string{"X": "v"}, true},
		{"256-byte name", map[string]string{strings.Repeat("n", 256): "v"}, true},
		{"value of the maximum length", map[string]string{"X-A": strings.Repeat("v", MaxHeaderValueBytes)}, true},
		{"the maximum number of headers", many(MaxHeaders), true},
		{"Host is not hop-by-hop", map[string]string{"Host": "status.example"}, true},

		{"empty name", map[string]string{"": "v"}, false},
		{"257-byte name", map[string]string{strings.Repeat("n", 257): "v"}, false},
		{"value one byte too long", map[string]string{"X-A": strings.Repeat("v", MaxHeaderValueBytes+1)}, false},
		{"one header too many", many(MaxHeaders + 1), false},
		{"space in a name", map[string]string{"X A": "v"}, false},
		{"colon in a name", map[string]string{"X-A:": "v"}, false},
		{"non-ASCII name", map[string]string{"X-\xc3\xa9": "v"}, false},
		{"long non-token name", map[string]string{strings.Repeat("n", 100) + " ": "v"}, false},
		{"CR in a value", map[string]string{"X-A": "a\rb"}, false},
		{"LF in a value", map[string]string{"X-A": "a\nB: c"}, false},
		{"NUL in a value", map[string]string{"X-A": "a\x00"}, false},
		{"unit separator in a value", map[string]string{"X-A": "a\x1f"}, false},
		{"DEL in a value", map[string]string{"X-A": "a\x7f"}, false},
		{"a bad header among good ones", map[string]string{"X-A": "1", "X-B": "2", "X-C": "\r"}, false},
	}
	for _, name := range specHopByHop {
		tests = append(tests,
			headerCase{"hop-by-hop " + name, map[string]string{name: "x"}, false},
			headerCase{"hop-by-hop lower-case " + name, map[string]string{strings.ToLower(name): "x"}, false},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckHeaders(tt.headers)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidHeader)
			require.Less(t, len(err.Error()), 200, "the message quotes a bounded part of the name")
			require.True(t, strings.HasPrefix(err.Error(), "probe: "), err.Error())
		})
	}
}

// TestCustomHeadersSent checks that headers CheckHeaders accepts reach the target unchanged,
// values with spaces included, and that the site's User-Agent replaces Vigil's.
func TestCustomHeadersSent(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	headers := map[string]string{
		"Authorization": "Bearer xyz",
		"X-Spaces":      "a  b c ",
		"X-Tab":         "a\tb",
		"User-Agent":    "site-agent/2",
	}
	res := NewHTTP(NewGuard(allowLoopback1)).Probe(context.Background(),
		monitor.Job{URL: srv.URL, TimeoutMS: 5000, Headers: headers})
	require.Equal(t, monitor.OutcomeUp, res.Outcome, res.Message)
	h := <-got
	for name, value := range headers {
		require.Equal(t, strings.TrimRight(value, " "), h.Get(name), name)
	}
}
