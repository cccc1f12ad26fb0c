package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Notifier is cmd/notifier's configuration.
type Notifier struct {
	Postgres
	Redis
	Observability

	SMTPHost string `env:"SMTP_HOST" envDefault:"localhost" help:"SMTP server host"`
	SMTPPort int    `env:"SMTP_PORT" envDefault:"587" help:"SMTP server port (465 means implicit TLS when VIGIL_SMTP_TLS=mandatory)"`
	SMTPUser string `env:"SMTP_USER" help:"SMTP user name (empty: no authentication)"`
	// SMTPPass is a secret: it is never logged and never printed by --help.
	SMTPPass string `env:"SMTP_PASS" help:"SMTP password (never logged)"`
	SMTPFrom string `env:"SMTP_FROM" envDefault:"Vigil <vigil@localhost>" help:"From address of alert emails; its domain is the right side of their Message-IDs, so use a real one"`
	SMTPTLS  string `env:"VIGIL_SMTP_TLS" envDefault:"mandatory" help:"SMTP TLS policy: mandatory (STARTTLS required), opportunistic or none (local relay only)"`

	DefaultAlertEmails []string      `env:"VIGIL_DEFAULT_ALERT_EMAILS" envSeparator:"," help:"comma-separated addresses alerted for websites without alert_emails"`
	GiveUp             time.Duration `env:"VIGIL_NOTIFY_GIVE_UP" envDefault:"24h" help:"age after which a notification that still fails is given up"`
	SendTimeout        time.Duration `env:"VIGIL_NOTIFY_SEND_TIMEOUT" envDefault:"30s" help:"time limit of one email or webhook delivery"`
	WebhookSecret      string        `env:"VIGIL_WEBHOOK_SECRET" help:"default signing secret of webhooks without their own (Standard Webhooks webhook-signature; whsec_<base64> or any string used as its bytes; empty: unsigned)"`
	// AllowTargets opens ranges of the SSRF guard for webhooks, as for checks.
	AllowTargets string        `env:"VIGIL_ALLOW_TARGETS" help:"comma-separated CIDRs or addresses that webhooks may reach although private (e.g. 10.0.0.0/8,127.0.0.1)"`
	DashboardURL string        `env:"VIGIL_DASHBOARD_URL" help:"base URL of the dashboard, for links in alerts (empty: no links)"`
	Consumer     string        `env:"VIGIL_NOTIFIER_CONSUMER" help:"consumer name in the events group (default hostname-pid); unique per process"`
	ClaimIdle    time.Duration `env:"VIGIL_EVENTS_CLAIM_IDLE" envDefault:"30s" help:"how long an event may stay unacknowledged before another notifier takes it over"`
}

// Validate reports values that parse but make no sense, naming the variable.
func (n Notifier) Validate() error {
	errs := []error{n.Observability.Validate()}
	if n.SMTPHost == "" {
		errs = append(errs, errors.New("SMTP_HOST: must not be empty"))
	}
	if n.SMTPPort < 1 || n.SMTPPort > 65535 {
		errs = append(errs, fmt.Errorf("SMTP_PORT: must be 1..65535, got %d", n.SMTPPort))
	}
	if _, err := mail.ParseAddress(n.SMTPFrom); err != nil {
		errs = append(errs, fmt.Errorf("SMTP_FROM: %q is not an address: %w", n.SMTPFrom, err))
	}
	switch strings.ToLower(n.SMTPTLS) {
	case "mandatory", "opportunistic", "none":
	default:
		errs = append(errs, fmt.Errorf("VIGIL_SMTP_TLS: must be mandatory, opportunistic or none, got %q", n.SMTPTLS))
	}
	for _, a := range n.DefaultAlertEmails {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, err := mail.ParseAddress(a); err != nil {
			errs = append(errs, fmt.Errorf("VIGIL_DEFAULT_ALERT_EMAILS: %q is not an address", a))
		}
	}
	if n.GiveUp <= 0 {
		errs = append(errs, fmt.Errorf("VIGIL_NOTIFY_GIVE_UP: must be positive, got %s", n.GiveUp))
	}
	if n.SendTimeout <= 0 || n.SendTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("VIGIL_NOTIFY_SEND_TIMEOUT: must be positive and at most 10m, got %s", n.SendTimeout))
	}
	if n.ClaimIdle <= 0 {
		errs = append(errs, fmt.Errorf("VIGIL_EVENTS_CLAIM_IDLE: must be positive, got %s", n.ClaimIdle))
	}
	if _, err := ParseAllowTargets(n.AllowTargets); err != nil {
		errs = append(errs, fmt.Errorf("VIGIL_ALLOW_TARGETS: %w", err))
	}
	if n.DashboardURL != "" {
		u, err := url.Parse(n.DashboardURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("VIGIL_DASHBOARD_URL: must be an http(s) URL, got %q", n.DashboardURL))
		}
	}
	return errors.Join(errs...)
}

// DefaultEmails returns VIGIL_DEFAULT_ALERT_EMAILS without empty entries.
func (n Notifier) DefaultEmails() []string {
	var out []string
	for _, a := range n.DefaultAlertEmails {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// AllowTargetPrefixes returns VIGIL_ALLOW_TARGETS parsed; Validate has already refused a bad
// value.
func (n Notifier) AllowTargetPrefixes() []netip.Prefix { return validPrefixes(n.AllowTargets) }

// ConsumerName is the configured consumer name, or hostname-pid.
func (n Notifier) ConsumerName() string { return consumerName(n.Consumer, "notifier") }
