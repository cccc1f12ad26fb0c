package monitor

import "time"

// Incident is a website-wide outage: at least the quorum of the website's regions were
// confirmed down. EndedAt is nil while it is open; DurationSeconds then runs to now.
type Incident struct {
	ID              string     `json:"id"`
	WebsiteID       string     `json:"website_id"`
	WebsiteName     string     `json:"website_name"`
	StartedAt       time.Time  `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at"`
	DurationSeconds int64      `json:"duration_seconds"`
	Cause           Cause      `json:"cause"`
	Regions         []string   `json:"regions"`
}

// Open reports whether the incident is still going on.
func (i Incident) Open() bool { return i.EndedAt == nil }

// Cause is why a check failed (or, for a check that succeeded, what it found): the part of a
// Result that explains a downtime. A regional downtime and an incident keep the cause of the
// first failing check of the streak that confirmed them (Transition.Cause), so that they say
// "status 500" rather than the confirming check's "timeout". Its JSON is part of the API's
// incidents and downtimes and of every alert payload: every field is always written.
type Cause struct {
	Outcome    Outcome `json:"outcome"`
	Reason     string  `json:"reason"`
	Message    string  `json:"message"`
	StatusCode int     `json:"status_code"`
}

// CauseOf returns r's cause.
func CauseOf(r Result) Cause {
	return Cause{Outcome: r.Outcome, Reason: r.Reason, Message: r.Message, StatusCode: r.StatusCode}
}
