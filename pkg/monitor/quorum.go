package monitor

import (
	"cmp"
	"slices"
	"time"
)

// DefaultQuorum is the number of a website's regions that must be confirmed down before the
// website is down overall when the website sets no quorum of its own: a strict majority, so 1 of
// 1, 2 of 2, 2 of 3 and 3 of 4. A majority keeps one region's network trouble from paging
// anyone, and a split (1 of 2) from counting as an outage.
func DefaultQuorum(regions int) int {
	if regions <= 0 {
		return 1
	}
	return regions/2 + 1
}

// EffectiveQuorum is the number of the website's regions (it has n of them now) that must be down for an
// incident. A website's own quorum (0 means the default majority) is capped at n, because a
// quorum that no set of regions can reach would hide every outage. A website that asks for
// regional alerts pages on the first region down, so its quorum is 1.
func (w Website) EffectiveQuorum(n int) int {
	if w.AlertRegional {
		return 1
	}
	q := w.Quorum
	if q <= 0 {
		q = DefaultQuorum(n)
	}
	if n > 0 && q > n {
		q = n
	}
	return q
}

// RegionState is the confirmed state of one of a website's regions, and since when.
type RegionState struct {
	Region string
	State  State
	Since  time.Time
}

// Verdict is the quorum's decision for a website.
type Verdict struct {
	// Down is true when at least Quorum of the website's regions are confirmed down.
	Down bool
	// DownRegions lists the regions confirmed down, the earliest first.
	DownRegions []string
	// Quorum is the number of regions that had to be down.
	Quorum int
	// Since is when the website became down overall: when the Quorum-th region went down. It is
	// zero unless Down.
	Since time.Time
}

// Decide applies the quorum to the confirmed states of a website's regions. Only the regions the
// website has now (regions) count: a state left over from a region the website no longer uses
// neither opens nor holds open an incident. unknown counts as not down.
func Decide(w Website, regions []string, states []RegionState) Verdict {
	q := w.EffectiveQuorum(len(regions))
	var down []RegionState
	for _, s := range states {
		if s.State == StateDown && slices.Contains(regions, s.Region) {
			down = append(down, s)
		}
	}
	slices.SortStableFunc(down, func(a, b RegionState) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return cmp.Compare(a.Region, b.Region)
	})
	v := Verdict{Quorum: q}
	for _, s := range down {
		v.DownRegions = append(v.DownRegions, s.Region)
	}
	if len(regions) > 0 && len(down) >= q {
		v.Down = true
		v.Since = down[q-1].Since
	}
	return v
}

// MayBeDown reports whether the website could still be down overall: its regions confirmed
// down, together with the regions that have not reported a confirmed state (unknown, or no
// state yet, as a region just added), reach the quorum. A configuration change that raises the
// quorum, such as a region added to a majority, must not resolve an incident, and send a
// RECOVERED for a site still failing, before the new regions have been heard from; their first
// confirmed states decide it through the usual transitions.
func MayBeDown(w Website, regions []string, states []RegionState) bool {
	if len(regions) == 0 {
		return false
	}
	reported := make(map[string]State, len(states))
	for _, s := range states {
		reported[s.Region] = s.State
	}
	n := 0
	for _, r := range regions {
		if st, ok := reported[r]; !ok || st == StateDown || st == StateUnknown {
			n++
		}
	}
	return n >= w.EffectiveQuorum(len(regions))
}
