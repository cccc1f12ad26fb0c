package monitor

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// canonicalStatus matches the plain form of an expected_status list: three-digit codes from
// 100 to 599 and ranges of them, comma-separated, no spaces. It is the fuzz target's oracle
// for what must be accepted, written as a pattern rather than as a parser.
var canonicalStatus = regexp.MustCompile(`^[1-5][0-9]{2}(-[1-5][0-9]{2})?(,[1-5][0-9]{2}(-[1-5][0-9]{2})?)*$`)

// oracleStatus returns the ranges of a canonical list, and false when it is no valid list:
// not canonical, more than 32 entries, or a range that ends before it starts.
func oracleStatus(s string) ([][2]int, bool) {
	if !canonicalStatus.MatchString(s) {
		return nil, false
	}
	parts := strings.Split(s, ",")
	if len(parts) > 32 {
		return nil, false
	}
	var out [][2]int
	for _, p := range parts {
		lo, _ := strconv.Atoi(p[:3])
		hi := lo
		if len(p) > 3 {
			hi, _ = strconv.Atoi(p[4:])
		}
		if hi < lo {
			return nil, false
		}
		out = append(out, [2]int{lo, hi})
	}
	return out, true
}

// FuzzParseExpectedStatus checks that the expected_status parser never panics, that it accepts
// every canonical list (and then holds exactly the listed codes), that what it accepts renders (String) to a form it reads back to the same set, and that the set answers
// Contains the same way before and after the round trip for every status code there is.
// Seeds: f.Add below and testdata/fuzz/FuzzParseExpectedStatus.
func FuzzParseExpectedStatus(f *testing.F) {
	for _, s := range []string{
		"200", "200-399", "200,204,301-302", " 200 , 404 ", "599", "100-599", "",
		"2xx", "200-", "-200", "300-200", "99", "600", "1000", "+20", "200-2-3", "0x1",
		"200,,204", "٢٠٠", "200\u00a0", "200-299,200-299,200-299", "100", "599-599",
		"100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseExpectedStatus(s)
		want, valid := oracleStatus(s)
		if valid {
			if err != nil {
				t.Fatalf("ParseExpectedStatus(%q) refused a valid list: %v", s, err)
			}
			for code := 0; code <= 1000; code++ {
				in := false
				for _, r := range want {
					in = in || (code >= r[0] && code <= r[1])
				}
				if set.Contains(code) != in {
					t.Fatalf("%q: Contains(%d) is %v", s, code, !in)
				}
			}
		}
		if err != nil {
			if set != nil {
				t.Fatalf("ParseExpectedStatus(%q) returned a set with an error", s)
			}
			return
		}
		if len(set) == 0 {
			t.Fatalf("ParseExpectedStatus(%q) accepted an empty set", s)
		}
		for _, r := range set {
			if r.Lo < 100 || r.Hi > 599 || r.Lo > r.Hi {
				t.Fatalf("ParseExpectedStatus(%q) accepted range %d-%d", s, r.Lo, r.Hi)
			}
		}
		str := set.String()
		again, err := ParseExpectedStatus(str)
		if err != nil {
			t.Fatalf("String() of %q is %q, which does not parse: %v", s, str, err)
		}
		if again.String() != str {
			t.Fatalf("round trip of %q: %q then %q", s, str, again.String())
		}
		for code := 0; code <= 1000; code++ {
			if set.Contains(code) != again.Contains(code) {
				t.Fatalf("%q and its String %q disagree on %d", s, str, code)
			}
		}
	})
}
