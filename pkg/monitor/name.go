package monitor

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxAPIKeyNameChars bounds an API key's name, which the key listing and the logs show.
const MaxAPIKeyNameChars = 200

// hiddenRunes are the categories a name may not contain: control characters (Cc: C0, DEL and
// C1 such as U+0085 and U+009B, the 8-bit CSI of terminals), format characters (Cf: the
// bidirectional overrides and isolates such as U+202E, zero-width characters, soft hyphen)
// and the line and paragraph separators (Zl U+2028, Zp U+2029). None of them shows as itself:
// they reorder, hide or break the text around them, which lets a name pass for another in the
// dashboard, an email subject or a status page.
var hiddenRunes = []*unicode.RangeTable{unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp}

// CheckName returns what is wrong with a name or title that people read (a website's or a
// status page's name, a group's, an API key's), or "" if nothing is. A name is valid UTF-8,
// of minChars to maxChars characters, not blank, and holds no character of hiddenRunes.
// Every name goes through this one rule, so that the API, the command line and any later
// input refuse the same strings.
func CheckName(s string, minChars, maxChars int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	n := utf8.RuneCountInString(s)
	if n < minChars || n > maxChars || strings.TrimSpace(s) == "" {
		return fmt.Sprintf("must be %d to %d characters", minChars, maxChars)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.In(r, hiddenRunes...) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Sprintf("must not contain control, formatting or line-separator characters (found U+%04X)", r)
	}
	return ""
}
