package monitor

import "time"

// Transition is a change of a (website, region) pair's confirmed state, as a worker emits it on
// the events stream. The notifier turns transitions into regional downtimes and, past the
// quorum, into incidents and notifications. A transition is identified by its pair and At, so
// that a redelivered or re-emitted event is recognised and changes nothing.
type Transition struct {
	WebsiteID string    `json:"website_id"`
	Region    string    `json:"region"`
	From      State     `json:"from"`
	To        State     `json:"to"`
	At        time.Time `json:"at"` // when the first check of the new state ran
	// The check that confirmed the change: its outcome, cause and response details, for the
	// incident's cause and the emails.
	Outcome    Outcome `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
	Message    string  `json:"message,omitempty"`
	StatusCode int     `json:"status_code,omitempty"`
	ResponseMS int64   `json:"response_ms"`
}
