// Package monitor holds Vigil's domain types and rules: websites, regions, the jobs that the
// scheduler hands to workers, the results that workers produce, the confirmed state of a
// (website, region) pair and the quorum that turns regional states into an incident. It imports
// no driver, so that every adapter (postgres, queue, tsdb, httpapi) can depend on it.
package monitor

import (
	"errors"
	"time"
)

// Errors that adapters translate their driver errors into, and that the HTTP layer maps to
// status codes in one place.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Defaults for a website's fields, used by the API when a field is omitted.
const (
	DefaultIntervalSeconds      = 180
	MinIntervalSeconds          = 10
	MaxIntervalSeconds          = 86400
	DefaultTimeoutMS            = 10000
	MaxTimeoutMS                = 60000
	DefaultExpectedStatus       = "200-399"
	DefaultConfirmationsDown    = 2
	DefaultConfirmationsUp      = 1
	DefaultRetryIntervalSeconds = 20
	// MaxBodyBytes is how much of a response body a probe reads (after decompression).
	MaxBodyBytes = 1 << 20
	// MaxRedirects is how many redirects a probe follows.
	MaxRedirects = 10
)

// Region is a place that workers check from. Its name is the key of its Redis stream.
type Region struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Website is a monitored target and the settings of its checks.
type Website struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	URL                  string            `json:"url"`
	Method               string            `json:"method"`
	Headers              map[string]string `json:"headers"`
	Body                 string            `json:"body"`
	IntervalSeconds      int               `json:"interval_seconds"`
	TimeoutMS            int               `json:"timeout_ms"`
	SlowMS               int               `json:"slow_ms"` // 0 means 80% of TimeoutMS
	ExpectedStatus       string            `json:"expected_status"`
	Keyword              string            `json:"keyword"`
	Regions              []string          `json:"regions"` // region names
	Enabled              bool              `json:"enabled"`
	AlertEmails          []string          `json:"alert_emails"`
	Webhooks             []string          `json:"webhooks"`
	ConfirmationsDown    int               `json:"confirmations_down"`
	ConfirmationsUp      int               `json:"confirmations_up"`
	RetryIntervalSeconds int               `json:"retry_interval_seconds"`
	Quorum               int               `json:"quorum"` // 0 means a majority of its regions
	AlertRegional        bool              `json:"alert_regional"`
	CreatedAt            time.Time         `json:"created_at"`
	UpdatedAt            time.Time         `json:"updated_at"`
}

// DefaultWebsite is a new website before its owner's fields are applied: the API starts a
// POST /websites from it (and a field sent as null goes back to its value here), and the
// dashboard's form shows it. A new website also checks from every region (its store's
// AllRegions).
func DefaultWebsite() Website {
	return Website{
		Method:               "GET",
		Headers:              map[string]string{},
		IntervalSeconds:      DefaultIntervalSeconds,
		TimeoutMS:            DefaultTimeoutMS,
		ExpectedStatus:       DefaultExpectedStatus,
		Enabled:              true,
		AlertEmails:          []string{},
		Webhooks:             []string{},
		ConfirmationsDown:    DefaultConfirmationsDown,
		ConfirmationsUp:      DefaultConfirmationsUp,
		RetryIntervalSeconds: DefaultRetryIntervalSeconds,
	}
}

// Job is one due check of one (website, region) pair, as the scheduler enqueues it. It carries
// everything the worker needs, so that a worker never reads PostgreSQL.
type Job struct {
	WebsiteID            string            `json:"website_id"`
	Region               string            `json:"region"`
	URL                  string            `json:"url"`
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
	DueAt                int64             `json:"due_at"` // unix milliseconds
	Retry                bool              `json:"retry,omitempty"`
}

// Timeout is the deadline of the job's check, redirects and body included: TimeoutMS clamped
// to MaxTimeoutMS, DefaultTimeoutMS when unset. The probe applies it, and the queue waits this
// long (plus grace) before it takes a pending job over from a consumer that stopped answering.
func (j Job) Timeout() time.Duration {
	switch {
	case j.TimeoutMS <= 0:
		return DefaultTimeoutMS * time.Millisecond
	case j.TimeoutMS > MaxTimeoutMS:
		return MaxTimeoutMS * time.Millisecond
	}
	return time.Duration(j.TimeoutMS) * time.Millisecond
}

// SlowThreshold is the response time above which an otherwise good check is degraded: SlowMS,
// or 80% of the timeout when it is unset, so that a site close to timing out shows before it
// does.
func (j Job) SlowThreshold() time.Duration {
	if j.SlowMS > 0 {
		return time.Duration(j.SlowMS) * time.Millisecond
	}
	return j.Timeout() * 8 / 10
}

// Outcome is the verdict of one check.
type Outcome string

// The outcomes of a check. Up and degraded count as available; down and timeout as failed;
// blocked means the SSRF guard refused the target and never opens an incident.
const (
	OutcomeUp       Outcome = "up"
	OutcomeDegraded Outcome = "degraded"
	OutcomeDown     Outcome = "down"
	OutcomeTimeout  Outcome = "timeout"
	OutcomeBlocked  Outcome = "blocked"
)

// Available reports whether the outcome counts towards uptime.
func (o Outcome) Available() bool { return o == OutcomeUp || o == OutcomeDegraded }

// Failed reports whether the outcome counts towards confirming downtime.
func (o Outcome) Failed() bool { return o == OutcomeDown || o == OutcomeTimeout }

// Phases are the durations of a check's HTTP exchange, from httptrace.
type Phases struct {
	DNS     time.Duration `json:"dns"`
	Connect time.Duration `json:"connect"`
	TLS     time.Duration `json:"tls"`
	TTFB    time.Duration `json:"ttfb"`
	Total   time.Duration `json:"total"`
}

// Result is what a probe found.
type Result struct {
	WebsiteID  string    `json:"website_id"`
	Region     string    `json:"region"`
	At         time.Time `json:"at"`
	Outcome    Outcome   `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`  // short machine-readable cause, e.g. "status", "refused", "dns", "tls", "keyword", "timeout", "ssrf"
	Message    string    `json:"message,omitempty"` // human-readable cause
	StatusCode int       `json:"status_code,omitempty"`
	Phases     Phases    `json:"phases"`
	// CertExpiry is the leaf certificate's NotAfter, zero for plain HTTP.
	CertExpiry time.Time `json:"cert_expiry,omitzero"`
}

// State is the confirmed state of a (website, region) pair, or of a website overall.
type State string

// The confirmed states.
const (
	StateUnknown State = "unknown"
	StateUp      State = "up"
	StateDown    State = "down"
)
