package metrics

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueryGauge is a gauge whose value is read from a store at scrape time, such as the number of
// open incidents in PostgreSQL. A gauge kept in one process would drift as soon as two
// processes open and close incidents, and would start at zero after every restart; the
// database knows the answer.
type QueryGauge struct {
	name    string
	desc    *prometheus.Desc
	query   func(context.Context) (float64, error)
	timeout time.Duration
	log     *slog.Logger
}

// NewQueryGauge returns a collector named vigil_<name> that calls query on each scrape with a
// DefaultScrapeTimeout deadline. When query fails the scrape leaves the series out (an absent
// series, not a wrong zero) and logs the error.
func NewQueryGauge(name, help string, query func(context.Context) (float64, error), log *slog.Logger) *QueryGauge {
	return &QueryGauge{
		name:    prometheus.BuildFQName(Namespace, "", name),
		desc:    prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, nil),
		query:   query,
		timeout: DefaultScrapeTimeout,
		log:     cmp.Or(log, slog.Default()),
	}
}

// Describe implements prometheus.Collector.
func (q *QueryGauge) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

// Collect implements prometheus.Collector.
func (q *QueryGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	v, err := q.query(ctx)
	if err != nil {
		q.log.WarnContext(ctx, "metrics: scrape query", "metric", q.name, "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, v)
}

// IncidentsOpen returns the vigil_incidents_open gauge; count returns the number of incidents
// not yet resolved (postgres.IncidentStore.CountOpen).
func IncidentsOpen(count func(context.Context) (float64, error), log *slog.Logger) *QueryGauge {
	return NewQueryGauge("incidents_open", "Incidents open now (read from PostgreSQL at scrape time).", count, log)
}

// OutboxPending returns the vigil_notifier_outbox_pending gauge; count returns the number of
// outbox rows neither delivered nor given up.
func OutboxPending(count func(context.Context) (float64, error), log *slog.Logger) *QueryGauge {
	return NewQueryGauge("notifier_outbox_pending", "Notifications waiting in the outbox (read from PostgreSQL at scrape time).", count, log)
}
