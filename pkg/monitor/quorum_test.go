package monitor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

func TestDefaultQuorum(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4} {
		require.Equal(t, want, monitor.DefaultQuorum(n), "regions=%d", n)
	}
}

func TestEffectiveQuorum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		site    monitor.Website
		regions int
		want    int
	}{
		{"default majority of 3", monitor.Website{}, 3, 2},
		{"override", monitor.Website{Quorum: 1}, 3, 1},
		{"override capped at region count", monitor.Website{Quorum: 5}, 2, 2},
		{"alert regional pages on one region", monitor.Website{Quorum: 3, AlertRegional: true}, 4, 1},
		{"default with no regions", monitor.Website{}, 0, 1},
		{"own quorum kept with no regions to cap it", monitor.Website{Quorum: 2}, 0, 2},
		{"own quorum equal to the regions", monitor.Website{Quorum: 3}, 3, 3},
		{"negative quorum takes the default", monitor.Website{Quorum: -1}, 4, 3},
		{"default majority of 4", monitor.Website{}, 4, 3},
		{"default majority of 1", monitor.Website{}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.site.EffectiveQuorum(tt.regions))
		})
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name      string
		site      monitor.Website
		regions   []string
		states    []monitor.RegionState
		wantDown  bool
		wantSince time.Time
		wantList  []string
	}{
		{
			name:     "one of one",
			regions:  []string{"eu"},
			states:   []monitor.RegionState{{Region: "eu", State: monitor.StateDown, Since: at(5)}},
			wantDown: true, wantSince: at(5), wantList: []string{"eu"},
		},
		{
			name:    "one of two is regional only",
			regions: []string{"eu", "us"},
			states: []monitor.RegionState{
				{Region: "eu", State: monitor.StateDown, Since: at(5)},
				{Region: "us", State: monitor.StateUp, Since: at(1)},
			},
			wantList: []string{"eu"},
		},
		{
			name:    "two of two, since the second",
			regions: []string{"eu", "us"},
			states: []monitor.RegionState{
				{Region: "us", State: monitor.StateDown, Since: at(9)},
				{Region: "eu", State: monitor.StateDown, Since: at(5)},
			},
			wantDown: true, wantSince: at(9), wantList: []string{"eu", "us"},
		},
		{
			name:    "two of three",
			regions: []string{"a", "b", "c"},
			states: []monitor.RegionState{
				{Region: "a", State: monitor.StateDown, Since: at(3)},
				{Region: "b", State: monitor.StateUnknown, Since: at(1)},
				{Region: "c", State: monitor.StateDown, Since: at(2)},
			},
			wantDown: true, wantSince: at(3), wantList: []string{"c", "a"},
		},
		{
			name:    "regions the website no longer has do not count",
			regions: []string{"eu", "us"},
			states: []monitor.RegionState{
				{Region: "eu", State: monitor.StateDown, Since: at(5)},
				{Region: "gone", State: monitor.StateDown, Since: at(1)},
			},
			wantList: []string{"eu"},
		},
		{
			name:     "alert regional",
			site:     monitor.Website{AlertRegional: true},
			regions:  []string{"eu", "us"},
			states:   []monitor.RegionState{{Region: "us", State: monitor.StateDown, Since: at(7)}},
			wantDown: true, wantSince: at(7), wantList: []string{"us"},
		},
		{
			name:    "no regions, nothing down",
			regions: nil,
			states:  []monitor.RegionState{{Region: "eu", State: monitor.StateDown, Since: at(5)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := monitor.Decide(tt.site, tt.regions, tt.states)
			require.Equal(t, tt.wantDown, v.Down)
			require.Equal(t, tt.wantSince, v.Since)
			require.Equal(t, tt.wantList, v.DownRegions)
		})
	}
}
