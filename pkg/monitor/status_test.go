package monitor_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

func TestParseExpectedStatus(t *testing.T) {
	t.Parallel()
	r := func(lo, hi int) monitor.StatusRange { return monitor.StatusRange{Lo: lo, Hi: hi} }
	tests := []struct {
		name string
		in   string
		want monitor.StatusSet // nil: refused
	}{
		{"one code", "200", monitor.StatusSet{r(200, 200)}},
		{"the default", monitor.DefaultExpectedStatus, monitor.StatusSet{r(200, 399)}},
		{"lowest code", "100", monitor.StatusSet{r(100, 100)}},
		{"highest code", "599", monitor.StatusSet{r(599, 599)}},
		{"widest range", "100-599", monitor.StatusSet{r(100, 599)}},
		{"one-code range", "204-204", monitor.StatusSet{r(204, 204)}},
		{"list in order given", "301,200-299,404", monitor.StatusSet{r(301, 301), r(200, 299), r(404, 404)}},
		{"spaces around everything", "  200 - 204 ,\t404  ", monitor.StatusSet{r(200, 204), r(404, 404)}},
		{"32 entries", strings.Repeat("200,", 31) + "200", repeatRange(r(200, 200), 32)},

		{"empty", "", nil},
		{"only spaces", "   ", nil},
		{"33 entries", strings.Repeat("200,", 32) + "200", nil},
		{"below 100", "099", nil},
		{"two digits", "99", nil},
		{"above 599", "600", nil},
		{"four digits", "1000", nil},
		{"leading zero in four digits", "0200", nil},
		{"class shorthand", "2xx", nil},
		{"sign", "+20", nil},
		{"range ends before it starts", "300-200", nil},
		{"range without end", "200-", nil},
		{"range without start", "-200", nil},
		{"range of three", "200-250-299", nil},
		{"empty entry", "200,,204", nil},
		{"trailing comma", "200,", nil},
		{"a bad entry after good ones", "200,204,abc", nil},
		{"a bad range end after good ones", "200,300-600", nil},
		{"non-ASCII digits", "٢٠٠", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := monitor.ParseExpectedStatus(tt.in)
			if tt.want == nil {
				require.Error(t, err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func repeatRange(r monitor.StatusRange, n int) monitor.StatusSet {
	s := make(monitor.StatusSet, n)
	for i := range s {
		s[i] = r
	}
	return s
}

func TestStatusSetContains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  string
		in   []int
		out  []int
	}{
		{"one code", "204", []int{204}, []int{203, 205, 0}},
		{"a range includes both ends", "200-299", []int{200, 201, 250, 299}, []int{199, 300, 100, 599}},
		{"one-code range", "418-418", []int{418}, []int{417, 419}},
		{"any entry of a list", "301,500-503,200", []int{200, 301, 500, 503}, []int{201, 302, 499, 504}},
		{"widest range", "100-599", []int{100, 599}, []int{99, 600, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, err := monitor.ParseExpectedStatus(tt.set)
			require.NoError(t, err)
			for _, c := range tt.in {
				require.True(t, set.Contains(c), "%d in %s", c, tt.set)
			}
			for _, c := range tt.out {
				require.False(t, set.Contains(c), "%d in %s", c, tt.set)
			}
			require.False(t, monitor.StatusSet(nil).Contains(200), "the empty set holds nothing")
		})
	}
}

func TestStatusSetString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"200", "200"},
		{" 200 - 299 , 301 ", "200-299,301"},
		{"204-204,500-599", "204,500-599"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			set, err := monitor.ParseExpectedStatus(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, set.String())
		})
	}
}
