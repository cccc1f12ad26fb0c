package scheduler

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// appendFields appends the JSON members (without braces) of the monitor.Job fields that depend
// only on the website, and reports whether they have the common shape (no headers, body or
// keyword) that many websites share. It is written by hand because a full load runs it a
// million times: encoding/json would allocate for each.
func appendFields(b []byte, w *monitor.Website) ([]byte, bool) {
	b = append(b, `"method":`...)
	b = appendString(b, w.Method)
	if len(w.Headers) > 0 {
		h, err := json.Marshal(w.Headers) // sorted keys; a map of strings always marshals
		if err != nil {
			panic("scheduler: encode headers: " + err.Error())
		}
		b = append(b, `,"headers":`...)
		b = append(b, h...)
	}
	if w.Body != "" {
		b = append(b, `,"body":`...)
		b = appendString(b, w.Body)
	}
	b = appendInt(b, `,"timeout_ms":`, w.TimeoutMS)
	b = appendInt(b, `,"slow_ms":`, w.SlowMS)
	b = append(b, `,"expected_status":`...)
	b = appendString(b, w.ExpectedStatus)
	if w.Keyword != "" {
		b = append(b, `,"keyword":`...)
		b = appendString(b, w.Keyword)
	}
	b = appendInt(b, `,"interval_seconds":`, w.IntervalSeconds)
	b = appendInt(b, `,"confirmations_down":`, w.ConfirmationsDown)
	b = appendInt(b, `,"confirmations_up":`, w.ConfirmationsUp)
	b = appendInt(b, `,"retry_interval_seconds":`, w.RetryIntervalSeconds)
	return b, len(w.Headers) == 0 && w.Body == "" && w.Keyword == ""
}

func appendInt(b []byte, name string, v int) []byte {
	return strconv.AppendInt(append(b, name...), int64(v), 10)
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
