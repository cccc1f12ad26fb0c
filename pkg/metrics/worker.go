package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// checkDurationBuckets span a fast local answer to the longest allowed check timeout (60 s).
var checkDurationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}

// Worker holds the metrics of one worker process. A worker serves one region, so the region
// label is fixed at construction and the methods take only what varies.
type Worker struct {
	region        string
	checks        *prometheus.CounterVec
	checkDuration prometheus.Observer
	inFlight      prometheus.Gauge
	reclaimed     prometheus.Counter
	deadLettered  prometheus.Counter
	transitions   *prometheus.CounterVec
	pointsWritten prometheus.Counter
	writeErrors   prometheus.Counter
	faults        *prometheus.CounterVec
}

// NewWorker registers the worker metrics for region on reg. Every outcome starts at zero so
// that rate() and increase() work from the first scrape.
func NewWorker(reg prometheus.Registerer, region string) *Worker {
	checks := counterVec("", "checks_total", "Checks completed, by region and outcome (up, degraded, down, timeout, blocked).", "region", "outcome")
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "check_duration_seconds",
		Help:    "Wall time of one check, from dial to the end of the limited body read.",
		Buckets: checkDurationBuckets,
	}, []string{"region"})
	inFlight := gaugeVec("worker", "checks_in_flight", "Checks this worker is running right now.", "region")
	reclaimed := counterVec("worker", "jobs_reclaimed_total", "Jobs claimed from a consumer that left them pending longer than their timeout plus the grace.", "region")
	dead := counterVec("worker", "jobs_dead_lettered_total", "Jobs moved to the region's dead-letter stream after too many deliveries.", "region")
	transitions := counterVec("worker", "transitions_total", "Confirmed state changes of a (website, region) pair, by the state entered.", "region", "state")
	points := counter("tsdb", "points_written_total", "Check results written to InfluxDB.")
	writeErrors := counter("tsdb", "write_errors_total", "Failed InfluxDB writes (each failed batch counts once).")
	faults := counterVec("worker", "check_faults_total", "Checks the worker could not run for a fault of its own (out of file descriptors or socket buffers); no verdict is recorded and the job is retried.", "region", "reason")
	reg.MustRegister(checks, duration, inFlight, reclaimed, dead, transitions, points, writeErrors, faults)
	faults.WithLabelValues(region, "worker")

	for _, o := range Outcomes {
		checks.WithLabelValues(region, string(o))
	}
	for _, s := range []monitor.State{monitor.StateUp, monitor.StateDown} {
		transitions.WithLabelValues(region, string(s))
	}
	return &Worker{
		region:        region,
		checks:        checks,
		checkDuration: duration.WithLabelValues(region),
		inFlight:      inFlight.WithLabelValues(region),
		reclaimed:     reclaimed.WithLabelValues(region),
		deadLettered:  dead.WithLabelValues(region),
		transitions:   transitions,
		pointsWritten: points,
		writeErrors:   writeErrors,
		faults:        faults,
	}
}

// CheckFault counts a check the worker could not run for a fault of its own.
func (w *Worker) CheckFault(reason string) { w.faults.WithLabelValues(w.region, reason).Inc() }

// RegisterBatchesDropped exports the InfluxDB writer's count of batches it gave up after their
// retries ran out (or the client discarded): those points are lost, and the count is read at
// scrape time from the writer, which owns it.
func RegisterBatchesDropped(reg prometheus.Registerer, dropped func() uint64) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "tsdb", Name: "batches_dropped_total",
		Help: "InfluxDB batches given up after their retries ran out, or discarded by the client; their points are lost.",
	}, func() float64 { return float64(dropped()) }))
}

// Outcomes are the outcome label values, created at zero when a Worker is built.
var Outcomes = []monitor.Outcome{
	monitor.OutcomeUp, monitor.OutcomeDegraded, monitor.OutcomeDown, monitor.OutcomeTimeout, monitor.OutcomeBlocked,
}

// ObserveCheck counts one finished check and records how long it took.
func (w *Worker) ObserveCheck(outcome monitor.Outcome, took time.Duration) {
	w.checks.WithLabelValues(w.region, string(outcome)).Inc()
	w.checkDuration.Observe(took.Seconds())
}

// CheckStarted marks a check as running; call the returned func when it ends.
func (w *Worker) CheckStarted() (done func()) {
	w.inFlight.Inc()
	return w.inFlight.Dec
}

// Reclaimed counts n jobs taken over from dead consumers.
func (w *Worker) Reclaimed(n int) { w.reclaimed.Add(float64(n)) }

// DeadLettered counts n jobs moved to the dead-letter stream.
func (w *Worker) DeadLettered(n int) { w.deadLettered.Add(float64(n)) }

// Transition counts a confirmed state change into state.
func (w *Worker) Transition(state monitor.State) {
	w.transitions.WithLabelValues(w.region, string(state)).Inc()
}

// PointsWritten counts n points InfluxDB accepted.
func (w *Worker) PointsWritten(n int) { w.pointsWritten.Add(float64(n)) }

// WriteError counts one failed InfluxDB write.
func (w *Worker) WriteError() { w.writeErrors.Inc() }
