package metrics

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/queue"
)

// DefaultScrapeTimeout bounds the Redis and PostgreSQL reads a collector makes per scrape, so a
// slow store makes a scrape miss a value and not hang.
const DefaultScrapeTimeout = 2 * time.Second

// StreamParams configures a StreamCollector.
type StreamParams struct {
	Client redis.UniversalClient
	Keys   queue.Keys // queue.Keys{Prefix: queue.Prefix} in production
	// Regions lists the regions whose check streams to read, at scrape time. A worker passes
	// StaticRegions(its region).
	Regions func(context.Context) ([]string, error)
	// Events adds the transition event stream (vigil_events_*), for the notifier.
	Events  bool
	Timeout time.Duration // default DefaultScrapeTimeout
	Log     *slog.Logger  // default slog.Default()
}

// StaticRegions returns a Regions func that always lists regions.
func StaticRegions(regions ...string) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) { return regions, nil }
}

// StreamCollector reads the backlog of Vigil's Redis streams at scrape time: XLEN and XINFO
// GROUPS (pending and lag of the vigil consumer group) per region, and the dead-letter
// stream's length. A counter inside a worker cannot see entries no worker has read yet, so the
// backlog has to come from Redis itself; it is what KEDA scales on and what the "workers
// falling behind" alert watches.
type StreamCollector struct {
	p StreamParams

	length, pending, lag, dead             *prometheus.Desc
	eventsLength, eventsPending, eventsLag *prometheus.Desc
	up                                     *prometheus.Desc
}

// NewStreamCollector returns a collector; register it with reg.MustRegister.
func NewStreamCollector(p StreamParams) *StreamCollector {
	p.Timeout = cmp.Or(p.Timeout, DefaultScrapeTimeout)
	if p.Log == nil {
		p.Log = slog.Default()
	}
	region := []string{"region"}
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	return &StreamCollector{
		p:             p,
		length:        prometheus.NewDesc(name("stream_length"), "Entries in the region's check stream (XLEN).", region, nil),
		pending:       prometheus.NewDesc(name("stream_pending"), "Checks delivered to a worker and not yet acknowledged (XPENDING count of the vigil group).", region, nil),
		lag:           prometheus.NewDesc(name("stream_lag"), "Checks in the stream not yet delivered to any worker (XINFO GROUPS lag).", region, nil),
		dead:          prometheus.NewDesc(name("dead_letter_length"), "Jobs in the region's dead-letter stream.", region, nil),
		eventsLength:  prometheus.NewDesc(name("events_length"), "Entries in the transition event stream (XLEN).", nil, nil),
		eventsPending: prometheus.NewDesc(name("events_pending"), "Transition events delivered to a notifier and not yet acknowledged.", nil, nil),
		eventsLag:     prometheus.NewDesc(name("events_lag"), "Transition events not yet delivered to any notifier.", nil, nil),
		up:            prometheus.NewDesc(name("stream_scrape_success"), "1 if the last read of the stream backlog from Redis succeeded.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.length, c.pending, c.lag, c.dead, c.up} {
		ch <- d
	}
	if c.p.Events {
		ch <- c.eventsLength
		ch <- c.eventsPending
		ch <- c.eventsLag
	}
}

// Collect implements prometheus.Collector.
func (c *StreamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.p.Timeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		c.p.Log.WarnContext(ctx, "metrics: read stream backlog", "error", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
}

func (c *StreamCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	regions, err := c.p.Regions(ctx)
	if err != nil {
		return fmt.Errorf("list regions: %w", err)
	}
	for _, region := range regions {
		b, err := c.backlog(ctx, c.p.Keys.Checks(region))
		if err != nil {
			return fmt.Errorf("region %s: %w", region, err)
		}
		dead, err := c.p.Client.XLen(ctx, c.p.Keys.DeadLetter(region)).Result()
		if err != nil {
			return fmt.Errorf("region %s: dead letters: %w", region, err)
		}
		ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(b.length), region)
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.pending), region)
		if b.lag >= 0 {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(b.lag), region)
		}
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(dead), region)
	}
	if c.p.Events {
		b, err := c.backlog(ctx, c.p.Keys.Events())
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		ch <- prometheus.MustNewConstMetric(c.eventsLength, prometheus.GaugeValue, float64(b.length))
		ch <- prometheus.MustNewConstMetric(c.eventsPending, prometheus.GaugeValue, float64(b.pending))
		if b.lag >= 0 {
			ch <- prometheus.MustNewConstMetric(c.eventsLag, prometheus.GaugeValue, float64(b.lag))
		}
	}
	return nil
}

type backlog struct{ length, pending, lag int64 }

// backlog reads one stream's length and its vigil group's pending count and lag. A stream or
// group that does not exist yet has no backlog. lag is -1 when Redis cannot tell it (after
// entries past the group's position were trimmed); the lag series is then left out.
func (c *StreamCollector) backlog(ctx context.Context, stream string) (backlog, error) {
	var b backlog
	pipe := c.p.Client.Pipeline()
	xlen := pipe.XLen(ctx, stream)
	groups := pipe.XInfoGroups(ctx, stream)
	_, _ = pipe.Exec(ctx) // each command's error is read below
	n, err := xlen.Result()
	if err != nil {
		return b, fmt.Errorf("xlen %s: %w", stream, err)
	}
	b.length = n
	gs, err := groups.Result()
	switch {
	case redis.HasErrorPrefix(err, "no such key"):
		return b, nil
	case err != nil:
		return b, fmt.Errorf("xinfo groups %s: %w", stream, err)
	}
	for _, g := range gs {
		if g.Name == queue.Group {
			b.pending, b.lag = g.Pending, g.Lag
			return b, nil
		}
	}
	// No group yet: nobody has read the stream, so all of it is lag.
	b.lag = n
	return b, nil
}
