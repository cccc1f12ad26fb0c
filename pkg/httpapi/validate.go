package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/textproto"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/probe"
)

// Bounds on a website's fields beyond those in pkg/monitor. They keep one website's row, job
// and emails small, whatever a client sends.
const (
	maxNameChars     = 200
	maxURLBytes      = 2048
	maxBodyBytes     = 64 << 10
	maxKeywordBytes  = 1024
	maxRegions       = 64
	maxAlertEmails   = 20
	maxEmailBytes    = 254
	maxWebhooks      = 10
	maxConfirmations = 10
	maxRetrySeconds  = 3600
	maxQueryChars    = 200
)

var methods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

var regionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

const regionNameRule = "must be 1 to 63 lower-case letters, digits or hyphens, starting with a letter or digit"

// websiteInput is the body of POST and PATCH /websites. Pointers and presence tell a field that
// was sent from one that was not.
type websiteInput struct {
	Name                 *string           `json:"name"`
	URL                  *string           `json:"url"`
	Method               *string           `json:"method"`
	Headers              map[string]string `json:"headers"`
	Body                 *string           `json:"body"`
	IntervalSeconds      *int              `json:"interval_seconds"`
	TimeoutMS            *int              `json:"timeout_ms"`
	SlowMS               *int              `json:"slow_ms"`
	ExpectedStatus       *string           `json:"expected_status"`
	Keyword              *string           `json:"keyword"`
	Regions              []string          `json:"regions"`
	Enabled              *bool             `json:"enabled"`
	AlertEmails          []string          `json:"alert_emails"`
	Webhooks             []webhookInput    `json:"webhooks"`
	ConfirmationsDown    *int              `json:"confirmations_down"`
	ConfirmationsUp      *int              `json:"confirmations_up"`
	RetryIntervalSeconds *int              `json:"retry_interval_seconds"`
	Quorum               *int              `json:"quorum"`
	AlertRegional        *bool             `json:"alert_regional"`
}

// webhookInput is one entry of "webhooks": a URL string, as seed 003 sends them, or an object
// {"url": ..., "secret": ...} that also sets the webhook's own signing secret ("whsec_" and the
// base64 of 24 to 64 bytes; "" removes it, so that VIGIL_WEBHOOK_SECRET signs again). A URL
// string, or an object without "secret", keeps the secret the webhook already has: secrets are
// write-only, so a client that sends back the webhooks it read must not erase them.
type webhookInput struct {
	URL string
	// Secret is nil when the client did not send one.
	Secret *string
}

// UnmarshalJSON accepts both forms. Its error never quotes the input, which may hold a secret.
func (h *webhookInput) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*h = webhookInput{URL: s}
		return nil
	}
	var obj struct {
		URL    *string `json:"url"`
		Secret *string `json:"secret"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil || obj.URL == nil {
		return &json.UnmarshalTypeError{Value: "webhook", Type: reflect.TypeFor[webhookInput]()}
	}
	*h = webhookInput{URL: *obj.URL, Secret: obj.Secret}
	return nil
}

// jsonDescription is how a 400 names what an entry of "webhooks" must be.
func (webhookInput) jsonDescription() string {
	return `a URL string or an object {"url": ..., "secret": "whsec_..."}`
}

// defaultWebsite is a new website before the client's fields are applied.
func defaultWebsite() postgres.Website {
	return postgres.Website{Website: monitor.DefaultWebsite(), AllRegions: true}
}

// apply sets the fields the client sent on w. A field sent as null goes back to its value in
// def; a field not sent is left as it is.
func (in websiteInput) apply(w *postgres.Website, p presence, def postgres.Website) {
	setOrDefault(&w.Name, in.Name, "", p.has("name"))
	setOrDefault(&w.URL, in.URL, "", p.has("url"))
	setOrDefault(&w.Method, in.Method, def.Method, p.has("method"))
	setOrDefault(&w.Body, in.Body, def.Body, p.has("body"))
	setOrDefault(&w.IntervalSeconds, in.IntervalSeconds, def.IntervalSeconds, p.has("interval_seconds"))
	setOrDefault(&w.TimeoutMS, in.TimeoutMS, def.TimeoutMS, p.has("timeout_ms"))
	setOrDefault(&w.SlowMS, in.SlowMS, def.SlowMS, p.has("slow_ms"))
	setOrDefault(&w.ExpectedStatus, in.ExpectedStatus, def.ExpectedStatus, p.has("expected_status"))
	setOrDefault(&w.Keyword, in.Keyword, def.Keyword, p.has("keyword"))
	setOrDefault(&w.Enabled, in.Enabled, def.Enabled, p.has("enabled"))
	setOrDefault(&w.ConfirmationsDown, in.ConfirmationsDown, def.ConfirmationsDown, p.has("confirmations_down"))
	setOrDefault(&w.ConfirmationsUp, in.ConfirmationsUp, def.ConfirmationsUp, p.has("confirmations_up"))
	setOrDefault(&w.RetryIntervalSeconds, in.RetryIntervalSeconds, def.RetryIntervalSeconds, p.has("retry_interval_seconds"))
	setOrDefault(&w.Quorum, in.Quorum, def.Quorum, p.has("quorum"))
	setOrDefault(&w.AlertRegional, in.AlertRegional, def.AlertRegional, p.has("alert_regional"))
	if p.has("headers") {
		w.Headers = in.Headers
		if w.Headers == nil {
			w.Headers = map[string]string{}
		}
	}
	if p.has("alert_emails") {
		w.AlertEmails = orEmpty(in.AlertEmails)
	}
	if p.has("webhooks") {
		w.Webhooks, w.WebhookSecrets = []string{}, map[string]string{}
		for _, h := range in.Webhooks {
			w.Webhooks = append(w.Webhooks, h.URL)
			if h.Secret != nil {
				w.WebhookSecrets[h.URL] = *h.Secret
			}
		}
	}
	if p.has("regions") {
		// No regions (null or []) means every region, now and later.
		w.Regions = in.Regions
		w.AllRegions = len(in.Regions) == 0
	}
}

func setOrDefault[T any](dst *T, v *T, def T, sent bool) {
	switch {
	case v != nil:
		*dst = *v
	case sent: // sent as null
		*dst = def
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// validator checks what the API accepts. checkTarget, when set, is the SSRF guard's literal
// check of a URL's host (probe.Guard.CheckURL); it runs on the website's URL and its webhooks.
type websiteValidator struct {
	checkTarget func(*url.URL) error
	v           *validator.Validate
}

func newWebsiteValidator(checkTarget func(*url.URL) error) *websiteValidator {
	return &websiteValidator{checkTarget: checkTarget, v: validator.New()}
}

// validate checks a website as it would be stored and normalises what has a canonical form
// (method, expected_status). It returns a 422 naming every field at fault: each step checks
// one group of fields and adds what is wrong with them, so that no step hides another's.
func (wv *websiteValidator) validate(w *postgres.Website) error {
	f := fieldErrors{}
	wv.checkRequest(w, f)
	checkTiming(w, f)
	checkVerdict(w, f)
	checkRegions(w, f)
	wv.checkAlerts(w, f)
	checkConfirmation(w, f)
	return f.err()
}

// checkRequest checks what a check sends: the name it is shown by, the URL (through the SSRF
// guard's literal check), the method, which it upper-cases, the headers and the body.
func (wv *websiteValidator) checkRequest(w *postgres.Website, f fieldErrors) {
	if msg := monitor.CheckName(w.Name, 1, maxNameChars); msg != "" {
		f.add("name", msg)
	}
	if msg := wv.checkURL(w.URL); msg != "" {
		f.add("url", msg)
	}
	w.Method = strings.ToUpper(w.Method)
	if !methods[w.Method] {
		f.add("method", "must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
	}
	if msg := checkHeaders(w.Headers); msg != "" {
		f.add("headers", msg)
	}
	if len(w.Body) > maxBodyBytes {
		f.add("body", fmt.Sprintf("must be at most %d bytes", maxBodyBytes))
	} else if strings.ContainsRune(w.Body, 0) {
		f.add("body", "must not contain NUL characters")
	}
}

// checkTiming checks when a check runs and how long it may take: the interval, the timeout,
// which must end before the next check is due, and the slow threshold.
func checkTiming(w *postgres.Website, f fieldErrors) {
	intervalOK := w.IntervalSeconds >= monitor.MinIntervalSeconds && w.IntervalSeconds <= monitor.MaxIntervalSeconds
	if !intervalOK {
		f.add("interval_seconds", fmt.Sprintf("must be between %d and %d", monitor.MinIntervalSeconds, monitor.MaxIntervalSeconds))
	}
	switch {
	case w.TimeoutMS < 1 || w.TimeoutMS > monitor.MaxTimeoutMS:
		f.add("timeout_ms", fmt.Sprintf("must be between 1 and %d", monitor.MaxTimeoutMS))
	case intervalOK && int64(w.TimeoutMS) >= int64(w.IntervalSeconds)*1000:
		f.add("timeout_ms", "must be shorter than the interval")
	}
	if w.SlowMS < 0 || w.SlowMS > monitor.MaxTimeoutMS {
		f.add("slow_ms", fmt.Sprintf("must be between 0 (80%% of the timeout) and %d", monitor.MaxTimeoutMS))
	} else if w.SlowMS > w.TimeoutMS {
		f.add("slow_ms", "must not exceed timeout_ms")
	}
}

// checkVerdict checks what makes a check good: the expected statuses, which it rewrites in
// their canonical form, and the keyword.
func checkVerdict(w *postgres.Website, f fieldErrors) {
	if set, err := monitor.ParseExpectedStatus(w.ExpectedStatus); err != nil {
		f.add("expected_status", err.Error())
	} else {
		w.ExpectedStatus = set.String()
	}
	if len(w.Keyword) > maxKeywordBytes {
		f.add("keyword", fmt.Sprintf("must be at most %d bytes", maxKeywordBytes))
	} else if strings.ContainsRune(w.Keyword, 0) {
		f.add("keyword", "must not contain NUL characters")
	}
}

// checkRegions checks the named regions of a website that does not check from all of them;
// whether they exist is the store's question.
func checkRegions(w *postgres.Website, f fieldErrors) {
	if !w.AllRegions {
		if len(w.Regions) > maxRegions {
			f.add("regions", fmt.Sprintf("must list at most %d regions", maxRegions))
		}
		for _, r := range w.Regions {
			if !regionName.MatchString(r) {
				f.add("regions", fmt.Sprintf("unknown region %q", truncate(r)))
			}
		}
	}
}

// checkAlerts checks who is told: the alert emails, the webhook URLs (through the SSRF guard's
// literal check) and their signing secrets.
func (wv *websiteValidator) checkAlerts(w *postgres.Website, f fieldErrors) {
	if msg := wv.checkEmails(w.AlertEmails); msg != "" {
		f.add("alert_emails", msg)
	}
	if len(w.Webhooks) > maxWebhooks {
		f.add("webhooks", fmt.Sprintf("must list at most %d URLs", maxWebhooks))
	}
	for _, h := range w.Webhooks {
		if msg := wv.checkURL(h); msg != "" {
			f.add("webhooks", fmt.Sprintf("%q: %s", truncate(h), msg))
		}
	}
	for h, secret := range w.WebhookSecrets {
		if _, err := webhook.ParseSecret(secret); secret != "" && err != nil {
			// The message names the webhook, never the secret.
			f.add("webhooks", fmt.Sprintf("secret of %q: %s", truncate(h), stripPrefix(err.Error())))
		}
	}
}

// checkConfirmation checks how a change is confirmed: the streaks that confirm down and up,
// the retry interval while confirming, and the quorum of regions.
func checkConfirmation(w *postgres.Website, f fieldErrors) {
	if w.ConfirmationsDown < 1 || w.ConfirmationsDown > maxConfirmations {
		f.add("confirmations_down", fmt.Sprintf("must be between 1 and %d", maxConfirmations))
	}
	if w.ConfirmationsUp < 1 || w.ConfirmationsUp > maxConfirmations {
		f.add("confirmations_up", fmt.Sprintf("must be between 1 and %d", maxConfirmations))
	}
	if w.RetryIntervalSeconds < 1 || w.RetryIntervalSeconds > maxRetrySeconds {
		f.add("retry_interval_seconds", fmt.Sprintf("must be between 1 and %d", maxRetrySeconds))
	}
	// The upper bound is the number of regions, which the store checks in its transaction.
	if w.Quorum < 0 || w.Quorum > maxRegions {
		f.add("quorum", fmt.Sprintf("must be between 0 (a majority) and the number of regions (at most %d)", maxRegions))
	}
}

// checkURL returns what is wrong with a check or webhook target, or "".
func (wv *websiteValidator) checkURL(raw string) string {
	const rule = "must be an absolute http or https URL"
	if raw == "" {
		return "is required; " + rule
	}
	if len(raw) > maxURLBytes {
		return fmt.Sprintf("must be at most %d bytes", maxURLBytes)
	}
	if strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, " \t\r\n\x00") {
		return rule + " without spaces or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return rule
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return rule
	}
	if u.User != nil {
		return "must not contain credentials; send them in a header"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "must have a port between 1 and 65535"
		}
	}
	if wv.checkTarget != nil {
		if err := wv.checkTarget(u); err != nil {
			return "target is not allowed: " + stripPrefix(err.Error())
		}
	}
	return ""
}

// stripPrefix drops the package prefix ("probe: ") of an error from another layer.
func stripPrefix(msg string) string {
	if pkg, rest, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(pkg, " ") {
		return rest
	}
	return msg
}

// checkHeaders returns what is wrong with a check's custom request headers, or "". The rules
// are the probe's own (probe.CheckHeaders: token names, no CR, LF or other control characters,
// no hop-by-hop or framing headers, bounded sizes), so that the API and the worker can never
// disagree about a header. The API also refuses Host, which the probe takes from the URL, and
// every Proxy-* header, which only a proxy should see.
func checkHeaders(h map[string]string) string {
	if err := probe.CheckHeaders(h); err != nil {
		return strings.TrimSuffix(stripPrefix(err.Error()), ": "+probe.ErrInvalidHeader.Error())
	}
	for name := range h {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if canon == "Host" || strings.HasPrefix(canon, "Proxy-") {
			return fmt.Sprintf("header %s cannot be set by a check", canon)
		}
	}
	return ""
}

// checkEmails returns what is wrong with a list of alert addresses, or "". Only bare
// addresses are accepted ("ops@example.com", not "Ops <ops@example.com>").
func (wv *websiteValidator) checkEmails(emails []string) string {
	if len(emails) > maxAlertEmails {
		return fmt.Sprintf("must list at most %d addresses", maxAlertEmails)
	}
	for _, e := range emails {
		bad := len(e) > maxEmailBytes || wv.v.Var(e, "required,email") != nil
		if !bad {
			a, err := mail.ParseAddress(e)
			bad = err != nil || a.Address != e || a.Name != ""
		}
		if bad {
			return fmt.Sprintf("%q is not a valid email address", truncate(e))
		}
	}
	return ""
}

// validRegionName returns what is wrong with a region name, or "".
func validRegionName(name string) string {
	if !regionName.MatchString(name) {
		return regionNameRule
	}
	return ""
}
