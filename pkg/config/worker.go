package config

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Worker is cmd/worker's configuration.
type Worker struct {
	Redis
	Influx
	Observability
	// Region may also come from the --region flag, which wins; one of them is required.
	Region      string `env:"VIGIL_REGION" help:"region whose checks this worker runs (or --region; required)"`
	Concurrency int    `env:"VIGIL_WORKER_CONCURRENCY" envDefault:"256" help:"checks run at once; most of a check is waiting on the network"`
	// AllowTargets opens ranges of the SSRF guard for self-hosters who monitor their own
	// network; the local run and the tests allow 127.0.0.0/8 this way.
	AllowTargets string `env:"VIGIL_ALLOW_TARGETS" help:"comma-separated CIDRs or addresses that checks may reach although private (e.g. 10.0.0.0/8,127.0.0.1)"`
	// Consumer names this process in the region's consumer group; empty means hostname-pid.
	Consumer string `env:"VIGIL_WORKER_CONSUMER" help:"consumer name in the region's group (default hostname-pid); unique per process"`
	// ReclaimGrace is added to each job's own timeout_ms: a job another consumer has left
	// pending for longer than that is presumed abandoned (its consumer died) and run again.
	ReclaimGrace    time.Duration `env:"VIGIL_RECLAIM_GRACE" envDefault:"15s" help:"added to a job's own timeout before a job another consumer left pending is reclaimed"`
	MaxDeliveries   int64         `env:"VIGIL_MAX_DELIVERIES" envDefault:"5" help:"deliveries of a job that never completes before it goes to the dead-letter stream"`
	ShutdownTimeout time.Duration `env:"VIGIL_SHUTDOWN_TIMEOUT" envDefault:"20s" help:"how long a stop may take: finish running checks, flush InfluxDB, ack"`
}

// Validate reports values that parse but make no sense, naming the variable. A missing region
// is reported by RequireRegion, after the --region flag has had its say.
func (w Worker) Validate() error {
	errs := []error{w.Observability.Validate()}
	if w.Concurrency < 1 || w.Concurrency > 100_000 {
		errs = append(errs, fmt.Errorf("VIGIL_WORKER_CONCURRENCY: must be 1..100000, got %d", w.Concurrency))
	}
	if _, err := ParseAllowTargets(w.AllowTargets); err != nil {
		errs = append(errs, fmt.Errorf("VIGIL_ALLOW_TARGETS: %w", err))
	}
	if w.ReclaimGrace <= 0 {
		errs = append(errs, fmt.Errorf("VIGIL_RECLAIM_GRACE: must be positive, got %s", w.ReclaimGrace))
	}
	if w.MaxDeliveries < 1 {
		errs = append(errs, fmt.Errorf("VIGIL_MAX_DELIVERIES: must be at least 1, got %d", w.MaxDeliveries))
	}
	if w.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("VIGIL_SHUTDOWN_TIMEOUT: must be positive, got %s", w.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// RequireRegion fails, naming both ways to set it, when no region was given.
func (w Worker) RequireRegion() error {
	if w.Region == "" {
		return errors.New("config: VIGIL_REGION (or --region) is required: the region whose checks this worker runs")
	}
	return nil
}

// AllowTargetPrefixes returns VIGIL_ALLOW_TARGETS parsed; Validate has already refused a bad
// value.
func (w Worker) AllowTargetPrefixes() []netip.Prefix { return validPrefixes(w.AllowTargets) }

// ConsumerName is the configured consumer name, or hostname-pid, which is unique per process
// and lets an operator tell from XINFO CONSUMERS which host holds a pending job.
func (w Worker) ConsumerName() string { return consumerName(w.Consumer, "worker") }
