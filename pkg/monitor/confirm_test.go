package monitor

import (
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
			for i, o := range tc.outcomes {
				var tr *Transition
				s, tr = s.Apply(Result{WebsiteID: "w", Region: "r", At: at(i), Outcome: o}, tc.c)
				if tr != nil {
					got = append(got, tr)
				}
			}
			require.Equal(t, tc.want.state, s.State)
			require.Len(t, got, len(tc.want.transitions))
			from := tc.start
			for i, tr := range got {
				require.Equal(t, tc.want.transitions[i], tr.To)
				require.Equal(t, from, tr.From)
				require.Equal(t, at(tc.want.atIndex[i]), tr.At, "At is the first check of the streak")
				require.Equal(t, "w", tr.WebsiteID)
				require.Equal(t, "r", tr.Region)
				from = tr.To
			}
			require.Equal(t, tc.want.retryLast, s.RetryDue(tc.c))
		})
	}
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
