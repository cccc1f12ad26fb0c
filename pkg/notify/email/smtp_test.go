package email_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
)

func startSink(t *testing.T) *smtpsink.Sink {
	t.Helper()
	sink, err := smtpsink.Start("127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sink.Close()) })
	return sink
}

func sender(t *testing.T, sink *smtpsink.Sink, tls string, mod ...func(*email.Config)) *email.SMTP {
	t.Helper()
	cfg := email.Config{Host: "127.0.0.1", Port: sink.Port(), From: "Vigil <vigil@example.com>", TLS: tls, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := email.NewSMTP(cfg)
	require.NoError(t, err)
	return s
}

// parts reads a received message and returns its headers and its parts by content type.
func parts(t *testing.T, data []byte) (*netmail.Message, map[string]string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	out := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p) // multipart.Reader decodes quoted-printable
		require.NoError(t, err)
		ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		out[ct] = string(body)
	}
	return msg, out
}

func TestSendMultipart(t *testing.T) {
	t.Parallel()
	for _, tls := range []string{email.TLSNone, email.TLSOpportunistic} {
		t.Run(tls, func(t *testing.T) {
			t.Parallel()
			sink := startSink(t)
			err := sender(t, sink, tls).Send(context.Background(), email.Message{
				To: []string{"ops@example.com"}, Subject: "[DOWN] shop — HTTP 503",
				Text: "plain body", HTML: "<p>html body</p>", MessageKey: "abc",
			})
			require.NoError(t, err)
			msgs := sink.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, []string{"ops@example.com"}, msgs[0].To)
			msg, ps := parts(t, msgs[0].Data)
			dec := new(mime.WordDecoder)
			subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
			require.NoError(t, err)
			require.Equal(t, "[DOWN] shop — HTTP 503", subject)
			require.Equal(t, "<abc@example.com>", msg.Header.Get("Message-Id"))
			require.Equal(t, "auto-generated", msg.Header.Get("Auto-Submitted"))
			require.Equal(t, "plain body", strings.TrimSpace(ps["text/plain"]))
			require.Equal(t, "<p>html body</p>", strings.TrimSpace(ps["text/html"]))
		})
	}
}

// Every message, as received, says it is automatic (RFC 3834, so auto-responders stay quiet)
// and has a Message-ID on SMTP_FROM's domain, whatever its key, never on a made-up one.
func TestAutoSubmittedAndMessageIDDomain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from, key string
		want            *regexp.Regexp
	}{
		{"outbox key", "Vigil <alerts@status.example.org>", "0b5e2c1a-7f0e-4c1e-9d1b-2b8f0e9b1c11",
			regexp.MustCompile(`^<0b5e2c1a-7f0e-4c1e-9d1b-2b8f0e9b1c11@status\.example\.org>$`)},
		{"no key: a random one", "alerts@example.net", "", regexp.MustCompile(`^<[A-Za-z0-9]{20,}@example\.net>$`)},
		{"a key that would break the header", "alerts@example.net", "a>b@c d\r\nX: y",
			regexp.MustCompile(`^<a-b-c-d--X--y@example\.net>$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := startSink(t)
			s := sender(t, sink, email.TLSNone, func(c *email.Config) { c.From = tt.from })
			require.NoError(t, s.Send(context.Background(), email.Message{To: []string{"ops@example.com"}, Subject: "s", Text: "t", MessageKey: tt.key}))
			msgs := sink.Messages()
			require.Len(t, msgs, 1)
			msg, err := netmail.ReadMessage(bytes.NewReader(msgs[0].Data))
			require.NoError(t, err)
			require.Equal(t, "auto-generated", msg.Header.Get("Auto-Submitted"))
			require.Regexp(t, tt.want, msg.Header.Get("Message-Id"))
		})
	}
}

func TestMandatoryTLSRefusesPlainServer(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	err := sender(t, sink, email.TLSMandatory).Send(context.Background(), email.Message{To: []string{"ops@example.com"}, Subject: "s", Text: "t"})
	require.Error(t, err, "go-mail's default policy needs STARTTLS, which the plain sink lacks")
	require.Empty(t, sink.Messages())
}

func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	err := sender(t, sink, email.TLSNone).Send(context.Background(), email.Message{
		To:      []string{"ops@example.com"},
		Subject: "[DOWN] x\r\nBcc: evil@example.com\r\nX-Evil: 1",
		Text:    "t", HTML: "<p>t</p>",
	})
	require.NoError(t, err)
	msgs := sink.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, []string{"ops@example.com"}, msgs[0].To, "no extra recipient")
	msg, _ := parts(t, msgs[0].Data)
	require.Empty(t, msg.Header.Get("Bcc"))
	require.Empty(t, msg.Header.Get("X-Evil"))
	require.NotContains(t, string(msgs[0].Data), "\nBcc:")
}

func TestAuthAndSecrets(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	withAuth := func(c *email.Config) { c.Username, c.Password = "vigil", "s3cret-pass" }
	require.NoError(t, sender(t, sink, email.TLSNone, withAuth).Send(context.Background(),
		email.Message{To: []string{"ops@example.com"}, Subject: "s", Text: "t"}))
	require.Len(t, sink.Messages(), 1)

	// A failure never carries the password.
	require.NoError(t, sink.Stop())
	err := sender(t, sink, email.TLSNone, withAuth).Send(context.Background(),
		email.Message{To: []string{"ops@example.com"}, Subject: "s", Text: "t"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pass")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  email.Config
	}{
		{"no host", email.Config{Port: 25, From: "a@example.com"}},
		{"bad port", email.Config{Host: "h", Port: 0, From: "a@example.com"}},
		{"bad from", email.Config{Host: "h", Port: 25, From: "not an address"}},
		{"bad tls", email.Config{Host: "h", Port: 25, From: "a@example.com", TLS: "sometimes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := email.NewSMTP(tt.cfg)
			require.Error(t, err)
		})
	}
	require.True(t, email.ValidTLS("opportunistic"))
	require.False(t, email.ValidTLS("yes"))
}

func TestHeaderSafe(t *testing.T) {
	t.Parallel()
	require.Equal(t, "x  Bcc: e", email.HeaderSafe("x\r\nBcc: e"))
	require.Equal(t, "a b c", email.HeaderSafe("a\tb\u2028c"))
}
