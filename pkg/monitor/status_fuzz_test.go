package monitor

import (
	"testing"
)

// FuzzParseExpectedStatus checks that the expected_status parser never panics, that what it
// accepts renders (String) to a form it reads back to the same set, and that the set answers
// Contains the same way before and after the round trip for every status code there is.
// Seeds: f.Add below and testdata/fuzz/FuzzParseExpectedStatus.
func FuzzParseExpectedStatus(f *testing.F) {
	for _, s := range []string{
		"200", "200-399", "200,204,301-302", " 200 , 404 ", "599", "100-599", "",
		"2xx", "200-", "-200", "300-200", "99", "600", "1000", "+20", "200-2-3", "0x1",
		"200,,204", "٢٠٠", "200\u00a0", "200-299,200-299,200-299",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseExpectedStatus(s)
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
