package probe

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostNameEdges checks names at the edges of what validName lets through (the first and
// last letter and digit, the longest label) and the message for a numeric host, which names
// every address that resolvers may read it as.
func TestHostNameEdges(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil)
	tests := []struct {
		host string
		err  error
		msg  string
	}{
		{host: "az09.example"},
		{host: "z.example"},
		{host: "a-9_z.example"},
		{host: strings.Repeat("l", 63) + ".example"},
		{host: strings.Repeat("l", 64) + ".example", err: ErrInvalidURL},
		{host: "011.8.8.8", err: ErrInvalidURL, msg: "read as 9.8.8.8 or as 11.8.8.8"},
		{host: "0x8.8.8.8", err: ErrInvalidURL, msg: "write it as 8.8.8.8"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(&url.URL{Scheme: "https", Host: tt.host, Path: "/"})
			if tt.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.err)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}
