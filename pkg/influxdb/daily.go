package influxdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/query"
)

// Day is the length of one cell of the uptime bars. Days are UTC days: Flux windows start at
// the Unix epoch, which is a UTC midnight.
const Day = 24 * time.Hour

// DayCounts are the checks of one website on one UTC day, across its regions.
type DayCounts struct {
	Date   time.Time // the day's UTC midnight
	Counts Counts
}

// DailyOutcomes counts the checks of the given websites by outcome per UTC day over [from,
// to), all regions together, in one query. from is rounded down to a day. Days without checks
// are absent. Past days never change, so callers cache them and ask again only for today: the
// range of a 90-day bar is read once per website, and then one day at a time.
func (r *Reader) DailyOutcomes(ctx context.Context, websiteIDs []string, from, to time.Time) (map[string][]DayCounts, error) {
	out := map[string][]DayCounts{}
	if len(websiteIDs) == 0 {
		return out, nil
	}
	ids, err := canonicalIDs(websiteIDs)
	if err != nil {
		return nil, fmt.Errorf("influxdb: daily outcomes: %w", err)
	}
	from = from.UTC().Truncate(Day)
	if !to.After(from) {
		return out, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  |> duplicate(column: \"_value\", as: \"outcome\")\n"+
		"  |> group(columns: [\"website_id\", \"outcome\"])\n"+
		"  |> aggregateWindow(every: 1d, fn: count, createEmpty: false, timeSrc: \"_start\")\n"+
		"  |> yield(name: \"daily\")\n", r.source(from, to, ids, "", "outcome"))

	type key struct {
		id  string
		day int64
	}
	acc := map[key]*Counts{}
	err = r.run(ctx, b.String(), func(rec *query.FluxRecord) error {
		k := key{str(rec.ValueByKey("website_id")), rec.Time().UTC().Truncate(Day).Unix()}
		countRecord(acc, k, rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("influxdb: daily outcomes: %w", err)
	}
	for k, c := range acc {
		out[k.id] = append(out[k.id], DayCounts{Date: time.Unix(k.day, 0).UTC(), Counts: *c})
	}
	for _, days := range out {
		slices.SortFunc(days, func(a, b DayCounts) int { return a.Date.Compare(b.Date) })
	}
	return out, nil
}
