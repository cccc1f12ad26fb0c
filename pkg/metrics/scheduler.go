package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dispatchLagBuckets span a healthy few milliseconds to a scheduler that has fallen a minute
// behind.
var dispatchLagBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Scheduler holds the metrics of one scheduler process. Only the leader dispatches, so the
// dispatch counters move on one replica at a time and vigil_scheduler_leader says which.
type Scheduler struct {
	dispatchLag prometheus.Histogram
	dispatched  *prometheus.CounterVec
	coalesced   *prometheus.CounterVec
	leader      prometheus.Gauge
	pairs       prometheus.Gauge
	resyncs     *prometheus.CounterVec
}

// NewScheduler registers the scheduler metrics on reg. The leader gauge starts at 0: a
// scheduler is a standby until it wins the election.
func NewScheduler(reg prometheus.Registerer) *Scheduler {
	s := &Scheduler{
		dispatchLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "scheduler", Name: "dispatch_lag_seconds",
			Help:    "How late a check was enqueued, measured from its due time to its XADD.",
			Buckets: dispatchLagBuckets,
		}),
		dispatched: counterVec("scheduler", "dispatched_total", "Checks enqueued into a region's stream.", "region"),
		coalesced:  counterVec("scheduler", "coalesced_total", "Due checks skipped because the pair's previous check was still pending.", "region"),
		leader:     gauge("scheduler", "leader", "1 while this scheduler holds the leader lock and dispatches, 0 on a standby."),
		pairs:      gauge("scheduler", "pairs", "Enabled (website, region) pairs in the due-time structure."),
		resyncs:    counterVec("scheduler", "resyncs_total", "Full resyncs from PostgreSQL, by result (ok, error).", "result"),
	}
	reg.MustRegister(s.dispatchLag, s.dispatched, s.coalesced, s.leader, s.pairs, s.resyncs)
	s.resyncs.WithLabelValues(ResultOK)
	s.resyncs.WithLabelValues(ResultError)
	return s
}

// Result label values shared by the counters that count attempts.
const (
	ResultOK    = "ok"
	ResultError = "error"
)

// InitRegion creates the region's series at zero, so that a region with nothing due yet still
// shows up, and rate() works from its first dispatch.
func (s *Scheduler) InitRegion(region string) {
	s.dispatched.WithLabelValues(region)
	s.coalesced.WithLabelValues(region)
}

// Dispatched counts n checks enqueued into region's stream.
func (s *Scheduler) Dispatched(region string, n int) {
	s.dispatched.WithLabelValues(region).Add(float64(n))
}

// Coalesced counts n due checks skipped because their previous check was still pending.
func (s *Scheduler) Coalesced(region string, n int) {
	s.coalesced.WithLabelValues(region).Add(float64(n))
}

// ObserveDispatchLag records how late one check was enqueued (XADD time minus due time).
func (s *Scheduler) ObserveDispatchLag(lag time.Duration) {
	s.dispatchLag.Observe(max(lag, 0).Seconds())
}

// SetLeader records whether this process leads.
func (s *Scheduler) SetLeader(leading bool) {
	if leading {
		s.leader.Set(1)
		return
	}
	s.leader.Set(0)
}

// SetPairs records how many pairs the scheduler holds.
func (s *Scheduler) SetPairs(n int) { s.pairs.Set(float64(n)) }

// Resynced counts one full resync; err is its result.
func (s *Scheduler) Resynced(err error) {
	if err != nil {
		s.resyncs.WithLabelValues(ResultError).Inc()
		return
	}
	s.resyncs.WithLabelValues(ResultOK).Inc()
}
