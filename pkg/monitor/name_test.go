package monitor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want string // a substring of the message; "" for a valid name
	}{
		{"plain", "Shop", ""},
		{"accents and CJK", "Café 東京 –", ""},
		{"emoji", "API 🚀", ""},
		{"inner spaces", "a  b", ""},
		{"no-break and ideographic space", "a\u00a0b\u3000c", ""},
		{"right-to-left script", "متجر", ""},
		{"exactly the maximum", strings.Repeat("é", 10), ""},
		{"empty", "", "1 to 10 characters"},
		{"blank", " \t ", "1 to 10 characters"},
		{"too long", strings.Repeat("a", 11), "1 to 10 characters"},
		{"invalid UTF-8", "a\xffb", "valid UTF-8"},
		{"overlong slash", "a\xc0\xafb", "valid UTF-8"},
		{"lone surrogate", "a\xed\xa0\x80b", "valid UTF-8"},
		{"NUL", "a\x00b", "U+0000"},
		{"tab", "a\tb", "U+0009"},
		{"newline", "a\nb", "U+000A"},
		{"escape", "a\x1b[31mb", "U+001B"},
		{"DEL", "a\x7fb", "U+007F"},
		{"C1 next line", "a\u0085b", "U+0085"},
		{"C1 CSI", "a\u009b31mb", "U+009B"},
		{"right-to-left override", "a\u202egnp.exe", "U+202E"},
		{"left-to-right override", "\u202dab", "U+202D"},
		{"right-to-left embedding", "a\u202bb", "U+202B"},
		{"pop directional formatting", "ab\u202c", "U+202C"},
		{"right-to-left isolate", "a\u2067b", "U+2067"},
		{"first strong isolate", "a\u2068b", "U+2068"},
		{"right-to-left mark", "a\u200fb", "U+200F"},
		{"arabic letter mark", "a\u061cb", "U+061C"},
		{"zero-width space", "a\u200bb", "U+200B"},
		{"zero-width joiner", "a\u200db", "U+200D"},
		{"word joiner", "a\u2060b", "U+2060"},
		{"byte order mark", "\ufeffab", "U+FEFF"},
		{"soft hyphen", "a\u00adb", "U+00AD"},
		{"interlinear annotation", "a\ufff9b", "U+FFF9"},
		{"tag character", "a\U000e0041b", "U+E0041"},
		{"line separator", "a\u2028b", "U+2028"},
		{"paragraph separator", "a\u2029b", "U+2029"},
		{"only a hidden character", "\u202e", "U+202E"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := CheckName(tc.in, 1, 10)
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tc.want)
		})
	}
}
