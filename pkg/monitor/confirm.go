package monitor

import "time"

// PairState is the confirmation state of one (website, region) pair: the confirmed state and the
// streak of consecutive checks that may change it. A single failed check (a blip) only starts a
// streak; the confirmed state changes once the streak is long enough. The rule lives here, in
// Go; Redis only stores the result (see queue.StateStore), so the rule can be tested without it.
type PairState struct {
	State State `json:"state"`
	// Fails and Oks are the lengths of the current streak of failed (down, timeout) or available
	// (up, degraded) checks. At most one of them is non-zero.
	Fails int `json:"fails"`
	Oks   int `json:"oks"`
	// Since is when the first check of the current streak ran: the At of the transition the
	// streak confirms, so that a downtime starts when the site went down, not when we were sure.
	Since time.Time `json:"since,omitzero"`
	// ChangedAt is the At of the last transition.
	ChangedAt time.Time `json:"changed_at,omitzero"`
	// LastAt is when the last applied check ran; an older result that arrives late (a
	// reclaimed, slow job) is ignored rather than rewinding the streak.
	LastAt      time.Time `json:"last_at,omitzero"`
	LastOutcome Outcome   `json:"last_outcome,omitempty"`
	// First is the first check of the current streak: its outcome, reason, message and status
	// code become the transition's First* fields, the cause of the downtime the streak
	// confirms ("status 500" rather than the confirming check's "timeout").
	First Cause `json:"first,omitzero"`
}

// Confirmations are how many consecutive checks confirm a change: Down failures to go down, Up
// successes to come back up. Zero or negative values take the website defaults.
type Confirmations struct{ Down, Up int }

// ConfirmationsOf returns the job's thresholds with defaults filled in.
func ConfirmationsOf(j Job) Confirmations {
	return Confirmations{Down: j.ConfirmationsDown, Up: j.ConfirmationsUp}.withDefaults()
}

func (c Confirmations) withDefaults() Confirmations {
	if c.Down <= 0 {
		c.Down = DefaultConfirmationsDown
	}
	if c.Up <= 0 {
		c.Up = DefaultConfirmationsUp
	}
	return c
}

// Apply folds one check result into the pair's state and returns the new state and, when the
// confirmed state changes, the transition to emit. The rule:
//   - down (or timeout) N consecutive times confirms down; up (or degraded) M consecutive times
//     confirms up; the transition's At, and its First* cause, are those of the first check of
//     the confirming streak, its other details those of the check that confirmed it;
//   - unknown to up is a transition too (the notifier ignores it when nothing is open);
//   - blocked counts neither way and never transitions: the SSRF guard refusing a target says
//     nothing about the target;
//   - a result older than the last applied one changes nothing.
func (s PairState) Apply(r Result, c Confirmations) (PairState, *Transition) {
	c = c.withDefaults()
	if s.State == "" {
		s.State = StateUnknown
	}
	if !s.LastAt.IsZero() && r.At.Before(s.LastAt) {
		return s, nil
	}
	s.LastAt = r.At
	s.LastOutcome = r.Outcome

	var to State
	switch {
	case r.Outcome.Failed():
		if s.Fails == 0 {
			s.Since = r.At
			s.First = CauseOf(r)
		}
		s.Oks = 0
		s.Fails++
		if s.State != StateDown && s.Fails >= c.Down {
			to = StateDown
		}
	case r.Outcome.Available():
		if s.Oks == 0 {
			s.Since = r.At
			s.First = CauseOf(r)
		}
		s.Fails = 0
		s.Oks++
		if s.State != StateUp && s.Oks >= c.Up {
			to = StateUp
		}
	default: // blocked, or an outcome this version does not know
		return s, nil
	}
	if to == "" {
		return s, nil
	}
	t := &Transition{
		WebsiteID:  r.WebsiteID,
		Region:     r.Region,
		From:       s.State,
		To:         to,
		At:         s.Since,
		Outcome:    r.Outcome,
		Reason:     r.Reason,
		Message:    r.Message,
		StatusCode: r.StatusCode,
		ResponseMS: r.Phases.Total.Milliseconds(),

		FirstOutcome:    s.First.Outcome,
		FirstReason:     s.First.Reason,
		FirstMessage:    s.First.Message,
		FirstStatusCode: s.First.StatusCode,
	}
	s.State = to
	s.ChangedAt = s.Since
	return s, t
}

// RetryDue reports whether the pair's next check should be a confirmation retry, run after the
// website's retry interval instead of a whole check interval: a failure streak that has not yet
// confirmed down, or a success streak that has not yet confirmed up.
func (s PairState) RetryDue(c Confirmations) bool {
	c = c.withDefaults()
	switch {
	case s.Fails > 0:
		return s.State != StateDown && s.Fails < c.Down
	case s.Oks > 0:
		return s.State != StateUp && s.Oks < c.Up
	}
	return false
}
