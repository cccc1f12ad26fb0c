package config

import (
	"errors"
	"fmt"
	"time"
)

// Scheduler is cmd/scheduler's configuration.
type Scheduler struct {
	Postgres
	Redis
	Observability
	ResyncInterval time.Duration `env:"VIGIL_RESYNC_INTERVAL" envDefault:"5m" help:"full resync from PostgreSQL that repairs missed notifications"`
	LeaderRetry    time.Duration `env:"VIGIL_LEADER_RETRY" envDefault:"2s" help:"how often a standby tries to take the leader lock"`
	Tick           time.Duration `env:"VIGIL_TICK" envDefault:"25ms" help:"how often the leader dispatches what is due (bounds how late a check is enqueued)"`
	DispatchBatch  int           `env:"VIGIL_DISPATCH_BATCH" envDefault:"500" help:"jobs per Redis script call"`
	StreamMaxLen   int64         `env:"VIGIL_STREAM_MAXLEN" envDefault:"1000000" help:"approximate bound of each region's check stream (XADD MAXLEN ~)"`
	PendingGrace   time.Duration `env:"VIGIL_PENDING_GRACE" envDefault:"60s" help:"added to a check's timeout before its pair may be queued again without a result"`
}

// Validate reports values that parse but make no sense.
func (c Scheduler) Validate() error {
	errs := []error{c.Observability.Validate()}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", name, d))
		}
	}
	positive("VIGIL_RESYNC_INTERVAL", c.ResyncInterval)
	positive("VIGIL_LEADER_RETRY", c.LeaderRetry)
	positive("VIGIL_TICK", c.Tick)
	positive("VIGIL_PENDING_GRACE", c.PendingGrace)
	if c.LeaderRetry > 10*time.Second {
		errs = append(errs, fmt.Errorf("VIGIL_LEADER_RETRY: at most 10s, so that a standby takes over within 15s, got %s", c.LeaderRetry))
	}
	if c.DispatchBatch < 1 || c.DispatchBatch > 10000 {
		errs = append(errs, fmt.Errorf("VIGIL_DISPATCH_BATCH: must be 1..10000, got %d", c.DispatchBatch))
	}
	if c.StreamMaxLen < 1000 {
		errs = append(errs, fmt.Errorf("VIGIL_STREAM_MAXLEN: must be at least 1000, got %d", c.StreamMaxLen))
	}
	return errors.Join(errs...)
}
