// Package webhook delivers signed JSON POSTs to user-supplied URLs. The HTTP client it is given
// must be the SSRF guard's (probe.Guard.Client): webhook URLs are user input and must not reach
// the private network the notifier runs in.
//
// Receivers verify a delivery by computing HMAC-SHA256 over the raw request body with the shared
// secret (VIGIL_WEBHOOK_SECRET) and comparing it, in constant time, with the hex digest in the
// X-Vigil-Signature header ("sha256=<hex>"). X-Vigil-Delivery is the same for every retry of one
// notification, so a receiver can drop the rare duplicate.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Header names of a delivery.
const (
	SignatureHeader = "X-Vigil-Signature"
	EventHeader     = "X-Vigil-Event"
	DeliveryHeader  = "X-Vigil-Delivery"
)

// maxResponseBytes is how much of a receiver's answer is read (to reuse the connection and to
// quote it in an error).
const maxResponseBytes = 64 << 10

// Client posts deliveries.
type Client struct {
	http      *http.Client
	secret    []byte
	userAgent string
}

// New returns a Client that posts with httpClient and signs with secret. An empty secret sends
// unsigned deliveries; the notifier warns at start when it does.
func New(httpClient *http.Client, secret string) *Client {
	return &Client{http: httpClient, secret: []byte(secret), userAgent: "Vigil-Webhook/1"}
}

// Delivery is one POST.
type Delivery struct {
	URL string
	// Event is "down" or "recovered".
	Event string
	// ID identifies the notification across retries.
	ID   string
	Body []byte
}

// Post sends d and succeeds on any 2xx answer. Any other answer, or no answer, is an error,
// and the caller retries later.
func (c *Client) Post(ctx context.Context, d Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("webhook: request to %s: %w", Redact(d.URL), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(EventHeader, d.Event)
	req.Header.Set(DeliveryHeader, d.ID)
	if len(c.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(c.secret, d.Body))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error quotes the full URL, which may carry a token in its path or query.
		return fmt.Errorf("webhook: post to %s: %w", Redact(d.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
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

// Sign returns the signature header value of body: "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's signature under secret, in constant time.
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
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
