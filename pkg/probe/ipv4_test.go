package probe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseLegacyIPv4Oracle compares parseLegacyIPv4 with the fuzz target's strconv oracle on
// inputs at the edges of each base and part count, and checks numeric (whether a host that is
// no address ends in a number and so is no valid name either).
func TestParseLegacyIPv4Oracle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		numeric bool
	}{
		{"255.255.255.255", true},
		{"255.0xffffff", true},
		{"255.255.0xffff", true},
		{"256.0xffffff", true},
		{"0xff.0377.255.0", true},
		{"0XA9FEA9FE", true},
		{"0XABCDEF01", true},
		{"0xabcdef01", true},
		{"0x0A.0XF.0xa.0xF", true},
		{"0xG", false},
		{"0x1G", false},
		{"00", true},
		{"07.0.0.1", true},
		{"09.0.0.1", true},
		{"9.9.9.9", true},
		{"4294967295", true},
		{"0xffffffff", true},
		{"0x100000000", true},
		{"037777777777", true},
		{"040000000000", true},
		{"1.2.3.4.", true},
		{"a.1.", true},
		{"a.b.", false},
		{"example.com.", false},
		{"1.2.3.4.x", false},
		{"1.2.3.4.0x", true},
		{"1..2", true},
		{".1", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, numeric, ok := parseLegacyIPv4(tt.in)
			want, wantOK := oracleIPv4(tt.in)
			require.Equal(t, wantOK, ok)
			if ok {
				require.Equal(t, want, got)
			}
			require.Equal(t, tt.numeric, numeric)
		})
	}
}
