package status

import (
	"context"
	"time"

	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// DowntimeRange is the regional downtime periods of a website that overlap [From, To), the
// earliest first, in UTC. A period still open has no end, and its duration counts to To.
type DowntimeRange struct {
	From      time.Time
	To        time.Time
	Downtimes []postgres.Downtime
}

// downtimeFilter is the range of the last days up to now, in every region or only in region.
func (v *Views) downtimeFilter(websiteID, region string, days int) postgres.DowntimeFilter {
	to := v.now().UTC()
	return postgres.DowntimeFilter{WebsiteID: websiteID, Region: region, From: to.Add(-time.Duration(days) * influxdb.Day), To: to}
}

// Downtimes is the website's regional downtime periods over the last days, in every region
// or only in region.
func (v *Views) Downtimes(ctx context.Context, websiteID, region string, days int) (DowntimeRange, error) {
	f := v.downtimeFilter(websiteID, region, days)
	ds, err := v.downtimes.List(ctx, f)
	if err != nil {
		return DowntimeRange{}, err
	}
	return DowntimeRange{From: f.From, To: f.To, Downtimes: UTCDowntimes(ds)}, nil
}

// LastDowntime is the website's most recent regional downtime period that overlaps the last
// days, in UTC; monitor.ErrNotFound when there is none.
func (v *Views) LastDowntime(ctx context.Context, websiteID, region string, days int) (postgres.Downtime, error) {
	d, err := v.downtimes.Latest(ctx, v.downtimeFilter(websiteID, region, days))
	if err != nil {
		return postgres.Downtime{}, err
	}
	return UTCDowntimes([]postgres.Downtime{d})[0], nil
}

// UTCDowntimes returns ds with their times in UTC, as every view shows them.
func UTCDowntimes(ds []postgres.Downtime) []postgres.Downtime {
	out := make([]postgres.Downtime, len(ds))
	for i, d := range ds {
		d.StartedAt = d.StartedAt.UTC()
		if d.EndedAt != nil {
			d.EndedAt = ptr(d.EndedAt.UTC())
		}
		out[i] = d
	}
	return out
}
