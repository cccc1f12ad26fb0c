// Package metrics defines every Prometheus metric Vigil exports, in one place, so that the names
// the roles increment, the names the alert rules in deploy/prometheus query and the names the
// tests look for cannot drift apart. Each role holds a small struct (Worker, Scheduler, Notifier,
// API) registered on its own *prometheus.Registry; collectors that read Redis or PostgreSQL at
// scrape time (StreamCollector, QueryGauge) report what a counter inside one process cannot see.
//
// Names follow the Prometheus conventions: a vigil_ prefix, _total on counters, base units
// (_seconds) on durations, and labels with a small, bounded set of values (region, outcome,
// channel, result; never a website id).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace starts every metric name.
const Namespace = "vigil"

// NewRegistry returns a registry for one process with the Go runtime and process collectors
// already on it. Each process (and each test) builds its own, so nothing is global.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// counterVec, counter, gaugeVec and gauge build a metric of Vigil's namespace, so that each
// role's constructor reads one line per metric: its subsystem, name, help and labels.
func counterVec(subsystem, name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
}

func counter(subsystem, name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help})
}

func gaugeVec(subsystem, name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
}

func gauge(subsystem, name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help})
}
