package probe

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

func TestStatusCache(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{name: "empty takes the default", in: "", want: monitor.DefaultExpectedStatus},
		{name: "blank takes the default", in: "  ", want: monitor.DefaultExpectedStatus},
		{name: "range", in: "200-299", want: "200-299"},
		{name: "list with spaces", in: " 200 , 204,301-302", want: "200,204,301-302"},
		{name: "invalid", in: "2xx", err: "not a status code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c statusCache
			for range 2 { // parsed, then from the cache
				set, err := c.get(tc.in)
				if tc.err != "" {
					require.ErrorContains(t, err, tc.err)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, tc.want, set.String())
			}
			if tc.err != "" {
				require.Zero(t, c.n.Load(), "errors are not cached")
			} else {
				require.EqualValues(t, 1, c.n.Load())
			}
		})
	}
}

func TestStatusCacheIsBounded(t *testing.T) {
	t.Parallel()
	var c statusCache
	for i := range maxStatusSets + 100 {
		code := 100 + i%500
		s := fmt.Sprintf("%d,%d", code, 100+i/500) // all distinct
		set, err := c.get(s)
		require.NoError(t, err, s)
		require.True(t, set.Contains(code), s)
	}
	require.EqualValues(t, maxStatusSets, c.n.Load())
	set, err := c.get("200")
	require.NoError(t, err, "past the bound values are still parsed")
	require.True(t, set.Contains(200))
	require.False(t, set.Contains(201))
}

func BenchmarkExpectedStatus(b *testing.B) {
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := monitor.ParseExpectedStatus("200-299,301,302"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		var c statusCache
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.get("200-299,301,302"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
