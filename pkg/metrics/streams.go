package metrics

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitor/vigil/pkg/queue"
)

// DefaultScrapeTimeout bounds the Redis and PostgreSQL reads a collector makes per scrape, so a
// slow store makes a scrape miss a value and not hang.
const DefaultScrapeTimeout = 2 * time.Second

// StreamParams configures a StreamCollector.
type StreamParams struct {
	// Inspector reads the streams' backlog from Redis.
	Inspector *queue.Inspector
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
		b, err := c.p.Inspector.Checks(ctx, region)
		if err != nil {
			return fmt.Errorf("region %s: %w", region, err)
		}
		dead, err := c.p.Inspector.DeadLetters(ctx, region)
		if err != nil {
			return fmt.Errorf("region %s: %w", region, err)
		}
		ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(b.Length), region)
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.Pending), region)
		if b.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(b.Lag), region)
		}
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(dead), region)
	}
	if c.p.Events {
		b, err := c.p.Inspector.Events(ctx)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		ch <- prometheus.MustNewConstMetric(c.eventsLength, prometheus.GaugeValue, float64(b.Length))
		ch <- prometheus.MustNewConstMetric(c.eventsPending, prometheus.GaugeValue, float64(b.Pending))
		if b.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(c.eventsLag, prometheus.GaugeValue, float64(b.Lag))
		}
	}
	return nil
}
