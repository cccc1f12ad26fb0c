package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var requestDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// API holds the metrics of the api process.
type API struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewAPI registers the api metrics on reg.
func NewAPI(reg prometheus.Registerer) *API {
	a := &API{
		requests: counterVec("http", "requests_total", "HTTP requests served, by method, route pattern and status code.", "method", "route", "code"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency, by method and route pattern.",
			Buckets: requestDurationBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(a.requests, a.duration)
	return a
}

// ObserveRequest records one request. route must be the route pattern ("/websites/:id"), never
// the raw path, so that the label set stays bounded.
func (a *API) ObserveRequest(method, route string, code int, took time.Duration) {
	a.requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	a.duration.WithLabelValues(method, route).Observe(took.Seconds())
}
