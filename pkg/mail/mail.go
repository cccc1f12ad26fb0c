// Package mail sends email through an SMTP server with go-mail, behind the small Sender
// interface that the notifier consumes (and that tests can replace with a struct of functions
// when they do not want a real SMTP conversation).
//
// Every header value that can carry user text (the subject, recipients) goes through
// HeaderSafe, so a website named "x\r\nBcc: evil@example.com" cannot add a header or a
// recipient. go-mail encodes header values too; this is the second, explicit line of defence.
//
// Every message says it was sent by a machine (Auto-Submitted: auto-generated, RFC 3834), so
// that vacation responders and other auto-responders do not answer an alert, and carries a
// Message-ID on the From address's domain: an id on a made-up domain ("@vigil") or on the
// notifier's container hostname raises spam scores and may collide with another sender's.
package mail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"
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

// Sender delivers one message. An error means the message may not have been delivered and the
// caller should try again later.
type Sender interface {
	Send(ctx context.Context, m Message) error
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

// SMTP is a Sender that opens a new connection to the server for each message. Alerts are few,
// and a fresh connection means an SMTP server restart never leaves a broken one behind.
type SMTP struct {
	cfg  Config
	from string
	// domain is the right side of every Message-ID: the From address's domain.
	domain string
	opts   []gomail.Option
}

// NewSMTP checks cfg and returns a Sender for it.
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
