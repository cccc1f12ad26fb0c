package monitor

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusSet is a parsed expected_status: a list of HTTP status codes and inclusive ranges, such
// as "200-299,301,302". It is small and immutable, so probes parse it once per job.
type StatusSet []StatusRange

// StatusRange is an inclusive range of status codes; a single code has Lo == Hi.
type StatusRange struct{ Lo, Hi int }

// ParseExpectedStatus parses a comma-separated list of codes and ranges ("200-399", "200,204",
// "2xx" is not accepted: ranges are explicit). Codes must lie in 100..599.
func ParseExpectedStatus(s string) (StatusSet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("must list at least one status code or range")
	}
	parts := strings.Split(s, ",")
	if len(parts) > 32 {
		return nil, fmt.Errorf("at most 32 codes or ranges")
	}
	set := make(StatusSet, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := parseCode(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseCode(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q ends before it starts", p)
			}
		}
		set = append(set, StatusRange{Lo: a, Hi: b})
	}
	return set, nil
}

func parseCode(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) != 3 {
		return 0, fmt.Errorf("%q is not a three-digit status code", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not a status code between 100 and 599", s)
	}
	return n, nil
}

// Contains reports whether code is expected.
func (s StatusSet) Contains(code int) bool {
	for _, r := range s {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// String renders the set in the form ParseExpectedStatus reads.
func (s StatusSet) String() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.Lo))
		if r.Hi != r.Lo {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.Hi))
		}
	}
	return b.String()
}
