package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPairStateApply(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 20 * time.Second) }

	type want struct {
		state State
		// transitions lists, in order, the To state and the index of the check whose time
		// must be the transition's At.
		transitions []State
		atIndex     []int
		retryLast   bool
	}
	cases := []struct {
		name     string
		start    State
		c        Confirmations
		outcomes []Outcome
		want     want
	}{
		{
			name: "unknown to up on first success", start: StateUnknown, c: Confirmations{Down: 2, Up: 1},
			outcomes: []Outcome{OutcomeUp},
			want:     want{state: StateUp, transitions: []State{StateUp}, atIndex: []int{0}},
		},
		{
			name: "a blip does not confirm", start: StateUp, c: Confirmations{Down: 2, Up: 1},
			outcomes: []Outcome{OutcomeDown, OutcomeUp, OutcomeTimeout, OutcomeDegraded},
			want:     want{state: StateUp},
		},
		{
			name: "N failures confirm down at the first failure", start: StateUp, c: Confirmations{Down: 3, Up: 1},
			outcomes: []Outcome{OutcomeUp, OutcomeDown, OutcomeTimeout, OutcomeDown, OutcomeDown},
			want:     want{state: StateDown, transitions: []State{StateDown}, atIndex: []int{1}},
		},
		{
			name: "a first failure asks for a retry", start: StateUp, c: Confirmations{Down: 2, Up: 1},
			outcomes: []Outcome{OutcomeDown},
			want:     want{state: StateUp, retryLast: true},
		},
		{
			name: "confirmed down asks for no retry", start: StateUp, c: Confirmations{Down: 2, Up: 1},
			outcomes: []Outcome{OutcomeDown, OutcomeDown},
			want:     want{state: StateDown, transitions: []State{StateDown}, atIndex: []int{0}},
		},
		{
			name: "M successes recover at the first success", start: StateDown, c: Confirmations{Down: 2, Up: 2},
			outcomes: []Outcome{OutcomeDown, OutcomeUp, OutcomeDown, OutcomeUp, OutcomeDegraded},
			want:     want{state: StateUp, transitions: []State{StateUp}, atIndex: []int{3}},
		},
		{
			name: "an unconfirmed recovery asks for a retry", start: StateDown, c: Confirmations{Down: 2, Up: 2},
			outcomes: []Outcome{OutcomeUp},
			want:     want{state: StateDown, retryLast: true},
		},
		{
			name: "blocked never transitions", start: StateUnknown, c: Confirmations{Down: 1, Up: 1},
			outcomes: []Outcome{OutcomeBlocked, OutcomeBlocked, OutcomeBlocked},
			want:     want{state: StateUnknown},
		},
		{
			name: "blocked neither counts nor breaks a streak", start: StateUp, c: Confirmations{Down: 2, Up: 1},
			outcomes: []Outcome{OutcomeDown, OutcomeBlocked, OutcomeDown},
			want:     want{state: StateDown, transitions: []State{StateDown}, atIndex: []int{0}},
		},
		{
			name: "down then up emits both", start: StateUp, c: Confirmations{Down: 2, Up: 1},
			outcomes: []Outcome{OutcomeDown, OutcomeTimeout, OutcomeDown, OutcomeUp},
			want:     want{state: StateUp, transitions: []State{StateDown, StateUp}, atIndex: []int{0, 3}},
		},
		{
			name: "zero thresholds take the defaults", start: StateUp, c: Confirmations{},
			outcomes: []Outcome{OutcomeDown, OutcomeDown},
			want:     want{state: StateDown, transitions: []State{StateDown}, atIndex: []int{0}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := PairState{State: tc.start}
			var got []*Transition
			var confirmedBy []int
			for i, o := range tc.outcomes {
				var tr *Transition
				s, tr = s.Apply(Result{WebsiteID: "w", Region: "r", At: at(i), Outcome: o,
					Message: fmt.Sprintf("check %d", i), StatusCode: 500 + i}, tc.c)
				if tr != nil {
					got = append(got, tr)
					confirmedBy = append(confirmedBy, i)
				}
			}
			require.Equal(t, tc.want.state, s.State)
			require.Len(t, got, len(tc.want.transitions))
			from := tc.start
			for i, tr := range got {
				require.Equal(t, tc.want.transitions[i], tr.To)
				require.Equal(t, from, tr.From)
				first, last := tc.want.atIndex[i], confirmedBy[i]
				require.Equal(t, at(first), tr.At, "At is the first check of the streak")
				require.Equal(t, fmt.Sprintf("check %d", first), tr.FirstMessage, "the cause is the first check of the streak")
				require.Equal(t, 500+first, tr.FirstStatusCode)
				require.Equal(t, tc.outcomes[first], tr.FirstOutcome)
				require.Equal(t, fmt.Sprintf("check %d", last), tr.Message, "the latest details are the confirming check's")
				require.Equal(t, 500+last, tr.StatusCode)
				require.Equal(t, tc.outcomes[last], tr.Outcome)
				require.Equal(t, "w", tr.WebsiteID)
				require.Equal(t, "r", tr.Region)
				from = tr.To
			}
			require.Equal(t, tc.want.retryLast, s.RetryDue(tc.c))
		})
	}
}

// A site that first answers 500 and then times out went down because of the 500: that is the
// transition's cause, while its latest details stay the timeout's.
func TestTransitionCauseIsTheFirstFailingCheck(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := Confirmations{Down: 3, Up: 1}
	s := PairState{State: StateUp}
	var tr *Transition
	for i, r := range []Result{
		{At: t0, Outcome: OutcomeUp, StatusCode: 200},
		{At: t0.Add(time.Minute), Outcome: OutcomeDown, Reason: "status", Message: "status 500, expected 200-399", StatusCode: 500},
		{At: t0.Add(time.Minute + 20*time.Second), Outcome: OutcomeBlocked, Reason: "ssrf", Message: "blocked"},
		{At: t0.Add(time.Minute + 40*time.Second), Outcome: OutcomeTimeout, Reason: "timeout", Message: "no response within 10000 ms"},
		{At: t0.Add(2 * time.Minute), Outcome: OutcomeTimeout, Reason: "timeout", Message: "no response within 10000 ms"},
	} {
		s, tr = s.Apply(r, c)
		if i < 4 {
			require.Nil(t, tr)
		}
	}
	require.NotNil(t, tr)
	require.Equal(t, StateDown, tr.To)
	require.Equal(t, t0.Add(time.Minute), tr.At)
	require.Equal(t, Cause{Outcome: OutcomeDown, Reason: "status", Message: "status 500, expected 200-399", StatusCode: 500}, tr.Cause())
	require.Equal(t, OutcomeTimeout, tr.Outcome)
	require.Equal(t, "no response within 10000 ms", tr.Message)
	require.Zero(t, tr.StatusCode)

	// An event from a worker that predates the First* fields: the confirming check explains it.
	old := Transition{Outcome: OutcomeTimeout, Reason: "timeout", Message: "no response"}
	require.Equal(t, Cause{Outcome: OutcomeTimeout, Reason: "timeout", Message: "no response"}, old.Cause())
}

func TestPairStateIgnoresOlderResult(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := Confirmations{Down: 1, Up: 1}
	s, tr := PairState{State: StateUp}.Apply(Result{At: t0, Outcome: OutcomeUp}, c)
	require.Nil(t, tr)
	s2, tr := s.Apply(Result{At: t0.Add(-time.Second), Outcome: OutcomeDown}, c)
	require.Nil(t, tr)
	require.Equal(t, s, s2)
}

func TestConfirmationsOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, Confirmations{Down: DefaultConfirmationsDown, Up: DefaultConfirmationsUp}, ConfirmationsOf(Job{}))
	require.Equal(t, Confirmations{Down: 3, Up: 2}, ConfirmationsOf(Job{ConfirmationsDown: 3, ConfirmationsUp: 2}))
}
