// Package webhook is the webhook channel: it renders an alert as a JSON body (the alert itself,
// or a Slack message for a Slack incoming webhook), signs it and POSTs it to a user-supplied
// URL. Any failure to deliver is worth another attempt; a body that cannot be rendered is not.
// The HTTP client it is given must be the SSRF guard's (probe.Guard.Client): webhook URLs are
// user input and must not reach the private network the notifier runs in.
//
// Deliveries are signed as the Standard Webhooks specification (https://www.standardwebhooks.com)
// says, so that a receiver can check them with any of its libraries, or with Verify:
//
//	webhook-id:        the notification's id, the same for every retry of it (an idempotency key)
//	webhook-timestamp: when this attempt was sent, in integer Unix seconds
//	webhook-signature: "v1," and the base64 HMAC-SHA256, under the webhook's secret, of
//	                   webhook-id + "." + webhook-timestamp + "." + the raw body
//
// The signature covers the id and the timestamp with the body, so a receiver that refuses a
// timestamp outside a few minutes of its clock cannot be made to accept a captured delivery
// again later, and one that remembers the ids it handled within that window drops a replay
// within it too (and the rare duplicate of a retried send).
//
// Secrets are written "whsec_" and the base64 of 24 to 64 random bytes, as the specification
// serialises them; the HMAC key is the decoded bytes. A webhook can have a secret of its own;
// the others are signed with VIGIL_WEBHOOK_SECRET, which may also be any other string, used as
// its own bytes (its "whsec_" form for a Standard Webhooks library is then "whsec_" + the base64
// of the string). With neither, deliveries are unsigned and the notifier warns at start.
//
// Worked example (TestSignKnownVector checks these values, which are the specification's own
// Go library's test vector): with the secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, the id
// msg_p5jXN8AQM9LWM0D4loKWxJek, the timestamp 1614265330 and the body {"test": 2432232314},
// the signed content is
//
//	msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}
//
// and the header is webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
// docs/webhooks.md shows the receiver's side, in Go and in Python.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify"
)

// Header names of a delivery. The three webhook-* ones are Standard Webhooks'.
const (
	IDHeader        = "webhook-id"
	TimestampHeader = "webhook-timestamp"
	SignatureHeader = "webhook-signature"

	// EventHeader ("down" or "recovered") and DeliveryHeader (the same value as webhook-id)
	// are Vigil's own, unsigned, and kept so that receivers that route or deduplicate on them
	// keep working. The former X-Vigil-Signature (an HMAC of the body alone, with no id or
	// timestamp, so a captured delivery verified forever) is no longer sent: Vigil has no
	// release whose receivers would need a transition, and a receiver that still checks it
	// fails loudly (its non-2xx answers show in the outbox and the delivery metrics) instead
	// of staying open to replays.
	EventHeader    = "X-Vigil-Event"
	DeliveryHeader = "X-Vigil-Delivery"
)

// SecretPrefix starts a secret in the Standard Webhooks serialisation.
const SecretPrefix = "whsec_"

// Bounds on a secret's decoded length, from the specification: at least 192 bits, at most 512.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// DefaultTolerance is how far from the receiver's clock Verify accepts a timestamp: the
// specification's libraries use five minutes.
const DefaultTolerance = 5 * time.Minute

// maxResponseBytes is how much of a receiver's answer is read (to reuse the connection and to
// quote it in an error).
const maxResponseBytes = 64 << 10

// ErrSecret is the error of a secret that is not "whsec_" and the base64 of 24 to 64 bytes.
// Its message never quotes the secret.
var ErrSecret = fmt.Errorf("webhook: a secret must be %q followed by the base64 of %d to %d random bytes",
	SecretPrefix, MinSecretBytes, MaxSecretBytes)

// ParseSecret decodes a "whsec_<base64>" secret into its HMAC key.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, ErrSecret
	}
	return key, nil
}

// DefaultKey returns the HMAC key of VIGIL_WEBHOOK_SECRET: the decoded bytes of a "whsec_"
// secret, or the string's own bytes otherwise (how the variable was used before Standard
// Webhooks, so existing secrets keep their meaning). Empty means unsigned.
func DefaultKey(s string) ([]byte, error) {
	if s == "" || !strings.HasPrefix(s, SecretPrefix) {
		return []byte(s), nil
	}
	return ParseSecret(s)
}

// Client is the webhook channel's notify.Notifier: it posts deliveries.
type Client struct {
	http       *http.Client
	defaultKey []byte
	now        func() time.Time
	userAgent  string
}

// New returns a Client that posts with httpClient and signs a delivery without a secret of its
// own with defaultKey (DefaultKey of VIGIL_WEBHOOK_SECRET; empty: unsigned). now stamps each
// attempt; time.Now when nil.
func New(httpClient *http.Client, defaultKey []byte, now func() time.Time) *Client {
	if now == nil {
		now = time.Now
	}
	return &Client{http: httpClient, defaultKey: defaultKey, now: now, userAgent: "Vigil-Webhook/1"}
}

// Notify renders m's alert for its recipient (a Slack message for a Slack incoming webhook)
// and posts it. The outbox row's id is the webhook-id of every attempt, so a receiver can drop
// a duplicate; the secret is the webhook's own as it is now (the outbox reads it when the row
// is claimed), or the default. A body that cannot be rendered is not worth a retry; a failed
// delivery is.
func (c *Client) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	body, err := Body(m.Alert, IsSlack(m.Recipient))
	if err != nil {
		return false, err
	}
	if err := c.Post(ctx, Delivery{URL: m.Recipient, Event: m.Alert.Kind, ID: m.ID, Body: body, Secret: m.Secret}); err != nil {
		return true, err
	}
	return false, nil
}

// Delivery is one POST.
type Delivery struct {
	URL string
	// Event is "down" or "recovered".
	Event string
	// ID identifies the notification across retries (the outbox row's id). It must not
	// contain a ".", which separates the signed fields.
	ID   string
	Body []byte
	// Secret is the webhook's own "whsec_" secret, read at send time; empty signs with the
	// client's default key. It is never logged or quoted in an error.
	Secret string
}

// Post sends d and succeeds on any 2xx answer. Any other answer, or no answer, is an error,
// and the caller retries later.
func (c *Client) Post(ctx context.Context, d Delivery) (err error) {
	if d.ID == "" || strings.Contains(d.ID, ".") {
		return fmt.Errorf("webhook: delivery id %q must be non-empty and without a dot", d.ID)
	}
	key := c.defaultKey
	if d.Secret != "" {
		var err error
		if key, err = ParseSecret(d.Secret); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("webhook: request to %s: %w", Redact(d.URL), err)
	}
	ts := c.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(IDHeader, d.ID)
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts.Unix(), 10))
	if len(key) > 0 {
		req.Header.Set(SignatureHeader, Sign(key, d.ID, ts, d.Body))
	}
	req.Header.Set(EventHeader, d.Event)
	req.Header.Set(DeliveryHeader, d.ID)
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error quotes the full URL, which may carry a token in its path or query.
		return fmt.Errorf("webhook: post to %s: %w", Redact(d.URL), unwrapURLError(err))
	}
	// A body that fails to close fails the attempt: the retry carries the same delivery id,
	// on which receivers deduplicate.
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	snippet, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("webhook: read answer of %s: %w", Redact(d.URL), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		s := strings.Join(strings.Fields(string(snippet)), " ")
		if len(s) > 200 {
			s = s[:200]
		}
		return fmt.Errorf("webhook: %s answered %s: %s", Redact(d.URL), resp.Status, s)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// Sign returns the webhook-signature value of one attempt: "v1," and the base64 HMAC-SHA256
// under key of id, the Unix timestamp and body joined by dots.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp      = errors.New("webhook: webhook-timestamp is outside the tolerance (an old or replayed delivery?)")
	ErrSignature      = errors.New("webhook: no webhook-signature matches")
)

// Verify is the receiver's check of a delivery: h are its headers, body its raw body (before
// any JSON decoding), key the HMAC key (ParseSecret of the webhook's secret), now the
// receiver's clock. It refuses a timestamp more than tolerance away from now (DefaultTolerance
// when zero), so a captured delivery cannot be replayed later, and accepts any "v1" signature
// of the space-separated list that matches, compared in constant time, as secret rotation
// needs. A receiver should also drop an id it handled within the tolerance.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, rawTS, sigs := h.Get(IDHeader), h.Get(TimestampHeader), h.Get(SignatureHeader)
	if id == "" || rawTS == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(rawTS, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-tolerance)) || ts.After(now.Add(tolerance)) {
		return ErrTimestamp
	}
	want := []byte(Sign(key, id, ts, body))
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrSignature
}

// Body renders an alert for a webhook: the Alert itself as JSON, or, for a Slack incoming
// webhook (a hooks.slack.com URL), a Slack message whose text says the same as the subject of
// the email. Slack's mrkdwn treats &, < and > specially, so user text is escaped for it.
func Body(a notify.Alert, slack bool) ([]byte, error) {
	if !slack {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("webhook: encode webhook body: %w", err)
		}
		return b, nil
	}
	name := slackEscape(notify.OneLine(a.Website.Name))
	var text string
	switch a.Kind {
	case monitor.KindDown:
		text = fmt.Sprintf(":red_circle: *%s is DOWN* — %s\n%s\nRegions: %s · since %s",
			name, slackEscape(notify.OneLine(notify.CauseText(a.Cause))), slackEscape(a.Website.URL),
			slackEscape(strings.Join(a.Regions, ", ")), a.StartedAt.UTC().Format(notify.TimeLayout))
	case monitor.KindRecovered:
		text = fmt.Sprintf(":large_green_circle: *%s has RECOVERED* after %s\n%s",
			name, notify.FormatDuration(time.Duration(a.Duration)*time.Second), slackEscape(a.Website.URL))
	default:
		return nil, fmt.Errorf("webhook: unknown alert kind %q", a.Kind)
	}
	if a.DashboardURL != "" {
		text += "\n<" + slackEscape(a.DashboardURL) + "|Open in Vigil>"
	}
	b, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return nil, fmt.Errorf("webhook: encode slack body: %w", err)
	}
	return b, nil
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// IsSlack reports whether rawURL is a Slack incoming webhook, which gets a Slack message body
// instead of Vigil's JSON.
func IsSlack(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.EqualFold(u.Hostname(), "hooks.slack.com")
}

// Redact returns rawURL fit for a log or an error: scheme, host and path only. Webhook URLs
// often carry a secret in their path (Slack's do), so the path is cut after its first segment.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(invalid url)"
	}
	path := u.EscapedPath()
	if i := strings.IndexByte(strings.TrimPrefix(path, "/"), '/'); i >= 0 {
		path = path[:i+1] + "/…"
	}
	return u.Scheme + "://" + u.Host + path
}
