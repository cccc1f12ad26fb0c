package scheduler

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// jobFields are the monitor.Job fields that depend only on the website, in the JSON that the
// worker decodes into monitor.Job. They are encoded once per website change, not per dispatch.
type jobFields struct {
	Method               string            `json:"method"`
	Headers              map[string]string `json:"headers,omitempty"`
	Body                 string            `json:"body,omitempty"`
	TimeoutMS            int               `json:"timeout_ms"`
	SlowMS               int               `json:"slow_ms"`
	ExpectedStatus       string            `json:"expected_status"`
	Keyword              string            `json:"keyword,omitempty"`
	IntervalSeconds      int               `json:"interval_seconds"`
	ConfirmationsDown    int               `json:"confirmations_down"`
	ConfirmationsUp      int               `json:"confirmations_up"`
	RetryIntervalSeconds int               `json:"retry_interval_seconds"`
}

// encodeFields returns the JSON members of w's job fields without the braces, and whether they
// have the common shape (no headers, body or keyword) that many websites share.
func encodeFields(w *monitor.Website) (string, bool) {
	b, err := json.Marshal(jobFields{
		Method: w.Method, Headers: w.Headers, Body: w.Body, TimeoutMS: w.TimeoutMS,
		SlowMS: w.SlowMS, ExpectedStatus: w.ExpectedStatus, Keyword: w.Keyword,
		IntervalSeconds: w.IntervalSeconds, ConfirmationsDown: w.ConfirmationsDown,
		ConfirmationsUp: w.ConfirmationsUp, RetryIntervalSeconds: w.RetryIntervalSeconds,
	})
	if err != nil { // strings and ints always marshal
		panic("scheduler: encode job fields: " + err.Error())
	}
	common := len(w.Headers) == 0 && w.Body == "" && w.Keyword == ""
	return string(b[1 : len(b)-1]), common
}

// appendUUID appends the canonical text form of id.
func appendUUID(b []byte, id [16]byte) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(b, buf[:]...)
}

// appendJob appends the JSON of one monitor.Job. The field order differs from the struct's,
// which JSON does not care about.
func appendJob(b []byte, st *site, region string, due int64, retry bool) []byte {
	b = append(b, `{"website_id":"`...)
	b = appendUUID(b, st.id)
	b = append(b, `","region":`...)
	b = appendString(b, region)
	b = append(b, `,"url":`...)
	b = appendString(b, st.url)
	b = append(b, ',')
	b = append(b, st.fields...)
	b = append(b, `,"due_at":`...)
	b = strconv.AppendInt(b, due, 10)
	if retry {
		b = append(b, `,"retry":true`...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes what JSON requires (quote, backslash,
// control characters) and replaces invalid UTF-8, like encoding/json, without its allocations.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
