package status

import (
	"context"
	"time"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// latest returns the latest check of every region of sites: from the LastCheckReader (Redis)
// for the pairs it knows, and from the time series for the others, in one query for the
// websites that have such a pair. A check older than influxdb.LatestLookback of its website's
// interval is not a latest check, whichever store has it. If Redis fails, the whole page is
// read from the time series.
func (v *Views) latest(ctx context.Context, sites []postgres.Website) ([]influxdb.Latest, error) {
	ask := func(ws []postgres.Website) ([]influxdb.Latest, error) {
		if len(ws) == 0 {
			return nil, nil
		}
		ls := make([]influxdb.LatestSite, len(ws))
		for i, w := range ws {
			ls[i] = influxdb.LatestSite{ID: w.ID, Interval: time.Duration(w.IntervalSeconds) * time.Second}
		}
		return v.checks.Latest(ctx, ls)
	}
	if v.last == nil {
		return ask(sites)
	}
	var pairs []queue.Pair
	for _, w := range sites {
		for _, r := range w.Regions {
			pairs = append(pairs, queue.Pair{WebsiteID: w.ID, Region: r})
		}
	}
	known, err := v.last.LastChecks(ctx, pairs)
	if err != nil {
		v.log.WarnContext(ctx, "latest checks from Redis failed; reading them from the time series", "err", err)
		return ask(sites)
	}
	type pairKey struct{ id, region string }
	have := make(map[pairKey]bool, len(known))
	out := make([]influxdb.Latest, 0, len(pairs))
	now := v.now()
	interval := make(map[string]time.Duration, len(sites))
	for _, w := range sites {
		interval[w.ID] = time.Duration(w.IntervalSeconds) * time.Second
	}
	for _, lc := range known {
		have[pairKey{lc.WebsiteID, lc.Region}] = true
		if now.Sub(lc.At) > influxdb.LatestLookback(interval[lc.WebsiteID]) {
			continue // known, but not checked lately: no latest check, as in the time series
		}
		out = append(out, influxdb.Latest{WebsiteID: lc.WebsiteID, Region: lc.Region, At: lc.At, Outcome: lc.Outcome,
			ResponseMS: lc.ResponseMS, StatusCode: lc.StatusCode, Reason: lc.Reason, Error: lc.Message})
	}
	// Pairs Redis does not know: only enabled websites', since a paused website's pairs get no
	// new state and would send every page to the time series.
	var rest []postgres.Website
	for _, w := range sites {
		if !w.Enabled {
			continue
		}
		for _, r := range w.Regions {
			if !have[pairKey{w.ID, r}] {
				rest = append(rest, w)
				break
			}
		}
	}
	more, err := ask(rest)
	if err != nil {
		return nil, err
	}
	for _, l := range more {
		if !have[pairKey{l.WebsiteID, l.Region}] {
			out = append(out, l)
		}
	}
	return out, nil
}
