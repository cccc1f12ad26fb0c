// Package email is the email channel: it renders an alert as a message (a subject a person can
// triage from a lock screen, a text and an HTML part) and sends it through an SMTP server with
// go-mail. A failed send is worth another attempt; a message that cannot be rendered is not.
//
// Every header value that can carry user text (the subject, recipients) goes through
// HeaderSafe, so a website named "x\r\nBcc: evil@example.com" cannot add a header or a
// recipient. go-mail encodes header values too; this is the second, explicit line of defence.
//
// Every message says it was sent by a machine (Auto-Submitted: auto-generated, RFC 3834), so
// that vacation responders and other auto-responders do not answer an alert, and carries a
// Message-ID on the From address's domain: an id on a made-up domain ("@vigil") or on the
// notifier's container hostname raises spam scores and may collide with another sender's.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
)

// Message is one email: a multipart/alternative of Text and HTML (HTML may be empty).
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
	// MessageKey, when set, is the left side of the Message-ID, which Send completes with "@"
	// and the From address's domain. A stable key (say, the outbox row's id) lets a mail client
	// fold the rare duplicate of a retried send into one message. Empty: a random key.
	MessageKey string
}

// TLS policies for VIGIL_SMTP_TLS.
const (
	// TLSMandatory requires STARTTLS and fails against a server that does not offer it.
	TLSMandatory = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it and plain text otherwise.
	TLSOpportunistic = "opportunistic"
	// TLSNone never encrypts: for a local relay or a test server only.
	TLSNone = "none"
)

// Config is how to reach the SMTP server.
type Config struct {
	Host     string
	Port     int
	Username string
	// Password is never logged or included in an error.
	Password string
	From     string
	// TLS is TLSMandatory (the default), TLSOpportunistic or TLSNone.
	TLS string
	// Timeout bounds connecting and each SMTP command. Default 15 s.
	Timeout time.Duration
}

// SMTP is the email channel's notify.Notifier. It opens a new connection to the server for
// each message. Alerts are few,
// and a fresh connection means an SMTP server restart never leaves a broken one behind.
type SMTP struct {
	cfg  Config
	from string
	// domain is the right side of every Message-ID: the From address's domain.
	domain string
	opts   []gomail.Option
}

// NewSMTP checks cfg and returns the channel that sends through it.
func NewSMTP(cfg Config) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: SMTP_HOST is empty")
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: SMTP_PORT %d is not a port", cfg.Port)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP_FROM %q: %w", cfg.From, err)
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	if domain == "" {
		return nil, fmt.Errorf("mail: SMTP_FROM %q has no domain", cfg.From)
	}
	policy, err := tlsPolicy(cfg.TLS)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTLSPolicy(policy),
		gomail.WithTimeout(cfg.Timeout),
	}
	if cfg.Port == 465 && policy == gomail.TLSMandatory {
		// 465 is SMTPS: TLS from the first byte, not STARTTLS.
		opts = append(opts, gomail.WithSSL())
	}
	if cfg.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers, and over an unencrypted
		// connection only challenge-response ones. With TLS off, PLAIN is used, and go-mail allows
		// it only to localhost: a password never crosses a network in the clear.
		auth := gomail.SMTPAuthAutoDiscover
		if policy == gomail.NoTLS {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts,
			gomail.WithSMTPAuth(auth),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password))
	}
	return &SMTP{cfg: cfg, from: from.String(), domain: domain, opts: opts}, nil
}

// ValidTLS reports whether s is a VIGIL_SMTP_TLS value.
func ValidTLS(s string) bool {
	_, err := tlsPolicy(s)
	return err == nil
}

func tlsPolicy(s string) (gomail.TLSPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", TLSMandatory:
		return gomail.TLSMandatory, nil
	case TLSOpportunistic:
		return gomail.TLSOpportunistic, nil
	case TLSNone:
		return gomail.NoTLS, nil
	}
	return 0, fmt.Errorf("mail: VIGIL_SMTP_TLS must be mandatory, opportunistic or none, got %q", s)
}

// Notify renders m's alert for its recipient and sends it. The outbox row's id is the key of
// the Message-ID, so that if the duplicate window ever bites, the copies share it. An alert
// that cannot be rendered is not worth a retry; a failed send is.
func (s *SMTP) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	msg, err := Render(m.Alert, m.Recipient)
	if err != nil {
		return false, err
	}
	msg.MessageKey = m.ID
	if err := s.Send(ctx, msg); err != nil {
		return true, err
	}
	return false, nil
}

// Send delivers m to its recipients in one SMTP transaction.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return errors.New("mail: message has no recipient")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	to := make([]string, 0, len(m.To))
	for _, r := range m.To {
		a, err := mail.ParseAddress(HeaderSafe(r))
		if err != nil {
			return fmt.Errorf("mail: recipient %q: %w", HeaderSafe(r), err)
		}
		to = append(to, a.Address)
	}
	if err := msg.To(to...); err != nil {
		return fmt.Errorf("mail: recipients: %w", err)
	}
	msg.Subject(HeaderSafe(m.Subject))
	key := m.MessageKey
	if key == "" {
		key = rand.Text()
	}
	msg.SetMessageIDWithValue(messageIDKey(key) + "@" + s.domain)
	msg.SetGenHeader(headerAutoSubmitted, "auto-generated")
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s: %w", strings.Join(to, ", "), err)
	}
	return nil
}

// headerAutoSubmitted is RFC 3834's header, which go-mail has no constant for.
const headerAutoSubmitted gomail.Header = "Auto-Submitted"

// messageIDKey keeps the characters of key that RFC 5322 allows in a Message-ID's left side
// (dot-atom text) and replaces the others with "-", so that a key can never break the header.
func messageIDKey(key string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)) {
			return r
		}
		return '-'
	}, key)
}

// HeaderSafe makes s safe for one header line: CR, LF and every other control character
// become a space, so user text can never end the header and start another.
func HeaderSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// maxSubjectRunes keeps a subject readable in a phone's notification.
const maxSubjectRunes = 120

// Render renders an alert as a message to one recipient. The subject leads with the verdict and
// the website's name, so a person can triage from a lock screen; the bodies carry the details.
// Every user string is escaped in the HTML part, and no user string reaches a header except the
// subject, which HeaderSafe cleans.
func Render(a notify.Alert, to string) (Message, error) {
	name := notify.OneLine(a.Website.Name)
	var subject string
	switch a.Kind {
	case monitor.KindDown:
		subject = fmt.Sprintf("[DOWN] %s — %s", name, notify.OneLine(notify.CauseText(a.Cause)))
	case monitor.KindRecovered:
		subject = fmt.Sprintf("[RECOVERED] %s — down for %s", name, notify.FormatDuration(time.Duration(a.Duration)*time.Second))
	default:
		return Message{}, fmt.Errorf("email: unknown alert kind %q", a.Kind)
	}
	if utf8.RuneCountInString(subject) > maxSubjectRunes {
		subject = string([]rune(subject)[:maxSubjectRunes-1]) + "…"
	}
	view := emailView{Alert: a, Subject: subject}
	view.When = a.StartedAt.UTC().Format(notify.TimeLayout)
	if a.EndedAt != nil {
		view.Until = a.EndedAt.UTC().Format(notify.TimeLayout)
	}
	view.For = notify.FormatDuration(time.Duration(a.Duration) * time.Second)
	view.CauseText = notify.CauseText(a.Cause)
	view.RegionList = strings.Join(a.Regions, ", ")
	view.CheckedAt = a.Latest.At.UTC().Format(notify.TimeLayout)
	var text, html bytes.Buffer
	if err := textEmail.Execute(&text, view); err != nil {
		return Message{}, fmt.Errorf("email: render text email: %w", err)
	}
	if err := htmlEmail.Execute(&html, view); err != nil {
		return Message{}, fmt.Errorf("email: render html email: %w", err)
	}
	return Message{To: []string{to}, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

type emailView struct {
	notify.Alert
	Subject    string
	When       string
	Until      string
	For        string
	CauseText  string
	RegionList string
	CheckedAt  string
}

var textEmail = texttemplate.Must(texttemplate.New("text").Parse(`{{if eq .Kind "down" -}}
{{.Website.Name}} is DOWN.

Website:  {{.Website.Name}}
URL:      {{.Website.URL}}
Down at:  {{.When}}
Cause:    {{.CauseText}}
Regions:  {{.RegionList}}

Latest check ({{.Latest.Region}}, {{.CheckedAt}}):
  Outcome:       {{.Latest.Outcome}}{{if .Latest.Reason}} ({{.Latest.Reason}}){{end}}
{{- if .Latest.StatusCode}}
  Status code:   {{.Latest.StatusCode}}{{end}}
  Response time: {{.Latest.ResponseMS}} ms
{{- if .Latest.Message}}
  Message:       {{.Latest.Message}}{{end}}
{{- else -}}
{{.Website.Name}} has RECOVERED after {{.For}}.

Website:   {{.Website.Name}}
URL:       {{.Website.URL}}
Down from: {{.When}}
Up at:     {{.Until}}
Downtime:  {{.For}}
Cause was: {{.CauseText}}
Regions:   {{.RegionList}}

Latest check ({{.Latest.Region}}, {{.CheckedAt}}): {{.Latest.Outcome}}
{{- if .Latest.StatusCode}}, HTTP {{.Latest.StatusCode}}{{end}}, {{.Latest.ResponseMS}} ms
{{- end}}
{{if .DashboardURL}}
Details: {{.DashboardURL}}
{{end}}
Incident {{.IncidentID}} — sent by Vigil.
`))

var htmlEmail = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: -apple-system, Segoe UI, Roboto, sans-serif; color: #1f2328;">
{{if eq .Kind "down" -}}
<h2 style="color: #cf222e;">{{.Website.Name}} is down</h2>
<table cellpadding="4">
<tr><th align="left">Website</th><td>{{.Website.Name}}</td></tr>
<tr><th align="left">URL</th><td>{{.Website.URL}}</td></tr>
<tr><th align="left">Down at</th><td>{{.When}}</td></tr>
<tr><th align="left">Cause</th><td>{{.CauseText}}</td></tr>
<tr><th align="left">Regions</th><td>{{.RegionList}}</td></tr>
</table>
<h3>Latest check</h3>
<table cellpadding="4">
<tr><th align="left">Region</th><td>{{.Latest.Region}} at {{.CheckedAt}}</td></tr>
<tr><th align="left">Outcome</th><td>{{.Latest.Outcome}}{{if .Latest.Reason}} ({{.Latest.Reason}}){{end}}</td></tr>
{{if .Latest.StatusCode}}<tr><th align="left">Status code</th><td>{{.Latest.StatusCode}}</td></tr>{{end}}
<tr><th align="left">Response time</th><td>{{.Latest.ResponseMS}} ms</td></tr>
{{if .Latest.Message}}<tr><th align="left">Message</th><td>{{.Latest.Message}}</td></tr>{{end}}
</table>
{{- else -}}
<h2 style="color: #1a7f37;">{{.Website.Name}} has recovered</h2>
<p>It was down for <strong>{{.For}}</strong>.</p>
<table cellpadding="4">
<tr><th align="left">Website</th><td>{{.Website.Name}}</td></tr>
<tr><th align="left">URL</th><td>{{.Website.URL}}</td></tr>
<tr><th align="left">Down from</th><td>{{.When}}</td></tr>
<tr><th align="left">Up at</th><td>{{.Until}}</td></tr>
<tr><th align="left">Cause was</th><td>{{.CauseText}}</td></tr>
<tr><th align="left">Regions</th><td>{{.RegionList}}</td></tr>
</table>
{{- end}}
{{if .DashboardURL}}<p><a href="{{.DashboardURL}}">Open in Vigil</a></p>{{end}}
<p style="color: #59636e; font-size: 12px;">Incident {{.IncidentID}} — sent by Vigil.</p>
</body></html>
`))
