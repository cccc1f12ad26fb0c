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
	// The check that confirmed the change, the latest of its streak: its outcome, cause and
	// response details, for the emails' latest response details.
	Outcome    Outcome `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
	Message    string  `json:"message,omitempty"`
	StatusCode int     `json:"status_code,omitempty"`
	ResponseMS int64   `json:"response_ms"`
	// The first check of the confirming streak (the one at At): the cause of the downtime and
	// of the incident. Empty in events from workers that predate these fields; Cause then
	// returns the confirming check's instead.
	FirstOutcome    Outcome `json:"first_outcome,omitempty"`
	FirstReason     string  `json:"first_reason,omitempty"`
	FirstMessage    string  `json:"first_message,omitempty"`
	FirstStatusCode int     `json:"first_status_code,omitempty"`
}

// Cause explains the transition: the first check of the streak when the event carries it,
// else the confirming check. A downtime starts at the first failing check, so its cause is
// that check's too ("status 500" even when the confirming check timed out).
func (t Transition) Cause() Cause {
	if t.FirstOutcome != "" {
		return Cause{Outcome: t.FirstOutcome, Reason: t.FirstReason, Message: t.FirstMessage, StatusCode: t.FirstStatusCode}
	}
	return Cause{Outcome: t.Outcome, Reason: t.Reason, Message: t.Message, StatusCode: t.StatusCode}
}
