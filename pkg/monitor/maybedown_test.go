package monitor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMayBeDown(t *testing.T) {
	t.Parallel()
	st := func(region string, s State) RegionState { return RegionState{Region: region, State: s} }
	cases := []struct {
		name    string
		site    Website
		regions []string
		states  []RegionState
		want    bool
	}{
		{"no regions", Website{}, nil, []RegionState{st("eu", StateDown)}, false},
		{"down and a new region without a state (2 of 2)", Website{}, []string{"eu", "ap"}, []RegionState{st("eu", StateDown)}, true},
		{"down and an unknown region (2 of 2)", Website{}, []string{"eu", "ap"}, []RegionState{st("eu", StateDown), st("ap", StateUnknown)}, true},
		{"down and an up region (2 of 2)", Website{}, []string{"eu", "ap"}, []RegionState{st("eu", StateDown), st("ap", StateUp)}, false},
		{"every region up", Website{}, []string{"eu"}, []RegionState{st("eu", StateUp)}, false},
		{"one down, one unknown, one up (2 of 3)", Website{}, []string{"eu", "ap", "us"}, []RegionState{st("eu", StateDown), st("ap", StateUnknown), st("us", StateUp)}, true},
		{"one down, two up (2 of 3)", Website{}, []string{"eu", "ap", "us"}, []RegionState{st("eu", StateDown), st("ap", StateUp), st("us", StateUp)}, false},
		{"a removed region's state does not count", Website{}, []string{"eu", "ap"}, []RegionState{st("eu", StateUp), st("us", StateDown), st("ap", StateDown)}, false},
		{"quorum 3 of 3 with one up", Website{Quorum: 3}, []string{"eu", "ap", "us"}, []RegionState{st("eu", StateDown), st("ap", StateUp)}, false},
		{"regional alerts: one unknown is enough", Website{AlertRegional: true}, []string{"eu", "ap"}, []RegionState{st("eu", StateUp)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, MayBeDown(tc.site, tc.regions, tc.states))
		})
	}
}
