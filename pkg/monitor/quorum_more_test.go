package monitor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestDecideBeyondQuorum has more regions down than the quorum needs: the website went down
// when the quorum-th region did, not when the last one followed, and the verdict says which
// quorum applied.
func TestDecideBeyondQuorum(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	five := []string{"a", "b", "c", "d", "e"}
	down := func(region string, s int) monitor.RegionState {
		return monitor.RegionState{Region: region, State: monitor.StateDown, Since: at(s)}
	}
	tests := []struct {
		name    string
		site    monitor.Website
		regions []string
		states  []monitor.RegionState
		want    monitor.Verdict
	}{
		{
			name:    "four of five down, default quorum 3",
			regions: five,
			states:  []monitor.RegionState{down("e", 40), down("a", 10), down("c", 30), down("b", 20)},
			want: monitor.Verdict{Down: true, Quorum: 3, Since: at(30),
				DownRegions: []string{"a", "b", "c", "e"}},
		},
		{
			name:    "all of five down, own quorum 2",
			site:    monitor.Website{Quorum: 2},
			regions: five,
			states: []monitor.RegionState{
				down("a", 50), down("b", 40), down("c", 30), down("d", 20), down("e", 10),
			},
			want: monitor.Verdict{Down: true, Quorum: 2, Since: at(20),
				DownRegions: []string{"e", "d", "c", "b", "a"}},
		},
		{
			name:    "three of three down, regional alerts: the first one counts",
			site:    monitor.Website{AlertRegional: true, Quorum: 3},
			regions: []string{"a", "b", "c"},
			states:  []monitor.RegionState{down("b", 7), down("c", 9), down("a", 8)},
			want: monitor.Verdict{Down: true, Quorum: 1, Since: at(7),
				DownRegions: []string{"b", "a", "c"}},
		},
		{
			name:    "same time, ordered by region name",
			regions: []string{"a", "b", "c"},
			states:  []monitor.RegionState{down("c", 5), down("a", 5), down("b", 5)},
			want: monitor.Verdict{Down: true, Quorum: 2, Since: at(5),
				DownRegions: []string{"a", "b", "c"}},
		},
		{
			name:    "two of five down is short of the quorum",
			regions: five,
			states: []monitor.RegionState{
				down("a", 1), down("b", 2),
				{Region: "c", State: monitor.StateUp, Since: at(0)},
			},
			want: monitor.Verdict{Quorum: 3, DownRegions: []string{"a", "b"}},
		},
		{
			name:    "no regions: nothing is down, the default quorum still shows",
			regions: nil,
			states:  []monitor.RegionState{down("a", 1)},
			want:    monitor.Verdict{Quorum: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, monitor.Decide(tt.site, tt.regions, tt.states))
		})
	}
}
