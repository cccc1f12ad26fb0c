package monitor_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestPairStateStreaksAfterBlips walks one pair through confirmed states and blips: a blip on a
// confirmed pair starts a streak, the next opposite check starts a new one (which, agreeing
// with the confirmed state, neither transitions nor asks for a retry), and a later confirmation
// dates from the first check of its own streak, not of an earlier, broken one.
func TestPairStateStreaksAfterBlips(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 20 * time.Second) }
	c := monitor.Confirmations{Down: 2, Up: 2}
	steps := []struct {
		name     string
		outcome  monitor.Outcome
		state    monitor.State
		to       monitor.State // "" when the check confirms nothing
		since    int           // index of the first check of the current streak
		fails    int
		oks      int
		retryDue bool
	}{
		{"first success", monitor.OutcomeUp, monitor.StateUnknown, "", 0, 0, 1, true},
		{"second success confirms up", monitor.OutcomeUp, monitor.StateUp, monitor.StateUp, 0, 0, 2, false},
		{"blip on confirmed up", monitor.OutcomeDown, monitor.StateUp, "", 2, 1, 0, true},
		{"new success streak on confirmed up", monitor.OutcomeDegraded, monitor.StateUp, "", 3, 0, 1, false},
		{"failure streak starts again", monitor.OutcomeTimeout, monitor.StateUp, "", 4, 1, 0, true},
		{"second failure confirms down", monitor.OutcomeDown, monitor.StateDown, monitor.StateDown, 4, 2, 0, false},
		{"third failure confirms nothing more", monitor.OutcomeDown, monitor.StateDown, "", 4, 3, 0, false},
		{"blip on confirmed down", monitor.OutcomeUp, monitor.StateDown, "", 7, 0, 1, true},
		{"new failure streak on confirmed down", monitor.OutcomeDown, monitor.StateDown, "", 8, 1, 0, false},
		{"blocked changes nothing", monitor.OutcomeBlocked, monitor.StateDown, "", 8, 1, 0, false},
		{"recovery starts", monitor.OutcomeUp, monitor.StateDown, "", 10, 0, 1, true},
		{"recovery confirms up", monitor.OutcomeUp, monitor.StateUp, monitor.StateUp, 10, 0, 2, false},
	}
	var s monitor.PairState
	for i, st := range steps {
		var tr *monitor.Transition
		s, tr = s.Apply(monitor.Result{WebsiteID: "w", Region: "r", At: at(i), Outcome: st.outcome,
			Message: fmt.Sprintf("check %d", i)}, c)
		msg := fmt.Sprintf("step %d: %s", i, st.name)
		require.Equal(t, st.state, s.State, msg)
		require.Equal(t, at(st.since), s.Since, msg)
		require.Equal(t, st.fails, s.Fails, msg)
		require.Equal(t, st.oks, s.Oks, msg)
		require.Equal(t, st.retryDue, s.RetryDue(c), msg)
		require.Equal(t, at(i), s.LastAt, msg)
		if st.to == "" {
			require.Nil(t, tr, msg)
			continue
		}
		require.NotNil(t, tr, msg)
		require.Equal(t, st.to, tr.To, msg)
		require.Equal(t, at(st.since), tr.At, msg)
		require.Equal(t, at(st.since), s.ChangedAt, msg)
		require.Equal(t, fmt.Sprintf("check %d", st.since), tr.FirstMessage, msg)
	}
}

func TestRetryDueWithoutStreak(t *testing.T) {
	t.Parallel()
	for _, st := range []monitor.State{"", monitor.StateUnknown, monitor.StateUp, monitor.StateDown} {
		require.False(t, monitor.PairState{State: st}.RetryDue(monitor.Confirmations{}), "state %q", st)
	}
}
