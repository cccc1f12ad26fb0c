package email_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
)

// Hostile website names and check messages (a failing target chooses its own error text) stay
// inert in both emails: the HTML part escapes them, and the headers gain no line. The plain
// \r\nBcc: case through the whole notifier is TestHeaderInjectionAndEscaping; the SMTP sender's
// own is TestHeaderInjection. This table renders with email.Render directly and sends through
// email.SMTP to an SMTP sink, so that the bytes on the wire are what is checked.
func TestHostileTextInEmails(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	smtp := sender(t, sink, email.TLSNone)

	hostile := map[string]string{
		"script":       `<script>alert(1)</script>`,
		"attribute":    `x" onload="alert(2)`,
		"single quote": `x' onmouseover='alert(5)`,
		"javascript":   `javascript:alert(3)`,
		"img":          `<img src=x onerror=alert(4)>`,
		"CRLF Bcc":     "x\r\nBcc: evil@example.com\r\nX-Injected: 1",
		"LF only":      "x\nCc: evil@example.com",
		"CR only":      "x\rReply-To: evil@example.com",
		"NEL and LS":   "x\u0085Bcc: evil@example.com\u2028X-Injected: 1",
		"encoded word": "=?utf-8?q?x=0D=0ABcc:_evil@example.com?=",
		"body break":   "x\r\n\r\n<html>fake body",
	}
	inject := regexp.MustCompile(`(?im)^(bcc|cc|reply-to|x-injected):`)
	i := 0
	for name, text := range hostile {
		for _, kind := range []string{monitor.KindDown, monitor.KindRecovered} {
			i++
			ended := time.Now().UTC()
			a := notify.Alert{
				Kind: kind, IncidentID: "inc-1",
				Website:   notify.AlertWebsite{ID: "w-1", Name: text, URL: "https://example.com/"},
				StartedAt: ended.Add(-time.Hour), Duration: 3600,
				Cause:   monitor.Cause{Outcome: monitor.OutcomeDown, Message: text},
				Regions: []string{"eu"},
				Latest:  notify.AlertCheck{Region: "eu", At: ended, Outcome: monitor.OutcomeDown, Message: text},
			}
			if kind == monitor.KindRecovered {
				a.EndedAt = &ended
			}
			m, err := email.Render(a, "ops@example.com")
			require.NoError(t, err, name)
			require.NotContains(t, m.Subject, "\r", name)
			require.NotContains(t, m.Subject, "\n", name)
			for _, raw := range []string{"<script", "<img", `" onload`, `' onmouseover`, "<html>fake"} {
				require.NotContains(t, m.HTML, raw, "%s/%s: HTML part", name, kind)
			}
			require.NotRegexp(t, `(?i)href\s*=\s*["']?javascript:`, m.HTML)

			require.NoError(t, smtp.Send(context.Background(), m), name)
			msgs := sink.Messages()
			require.Len(t, msgs, i)
			got := msgs[i-1]
			require.Equal(t, []string{"ops@example.com"}, got.To, "%s/%s: no extra recipient", name, kind)
			msg, err := netmail.ReadMessage(bytes.NewReader(got.Data))
			require.NoError(t, err)
			for h := range msg.Header {
				require.Contains(t, []string{"Date", "From", "To", "Subject", "Message-Id", "Auto-Submitted", "Mime-Version",
					"Content-Type", "Content-Transfer-Encoding", "User-Agent", "X-Mailer"}, h, "%s/%s: unexpected header", name, kind)
			}
			head, _, _ := bytes.Cut(got.Data, []byte("\r\n\r\n"))
			require.False(t, inject.Match(head), "%s/%s: injected header line in\n%s", name, kind, head)
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			require.NoError(t, err)
			require.NotContains(t, subject, "\n")
			html := htmlPart(t, msg)
			for _, raw := range []string{"<script", "<img", `" onload`, "<html>fake"} {
				require.NotContains(t, html, raw, "%s/%s: HTML part on the wire", name, kind)
			}
		}
	}
}

func htmlPart(t *testing.T, msg *netmail.Message) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			t.Fatal("no HTML part")
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/html" {
			return string(body)
		}
	}
}
