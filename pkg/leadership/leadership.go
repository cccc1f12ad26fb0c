// Package leadership elects the one process that does a singleton job (the scheduler's
// dispatching) among replicas, by holding a lock in a store. An Elector campaigns for one
// lock; a process that needs several leases (shards of the schedule) runs one Elector per
// lease. The lock itself, and the SQL behind it, live in the store's adapter
// (postgres.AdvisoryLock).
package leadership

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitor/vigil/pkg/loop"
)

// Lock is a lock held by a session of the store: the session ending frees it. Its methods are
// called from the Elector's goroutine only.
type Lock interface {
	// Connect opens the lock's session if it has none.
	Connect(ctx context.Context) error
	// TryAcquire tries once to take the lock, without waiting.
	TryAcquire(ctx context.Context) (bool, error)
	// Held reports whether the session still holds the lock.
	Held(ctx context.Context) (bool, error)
	// Release gives the lock back, keeping the session.
	Release(ctx context.Context) error
	// Close ends the session (and frees the lock if held). The next Connect opens a new one.
	Close() error
	// Unavailable reports whether err means the store is out of reach, rather than that it
	// answered: a leader keeps leading through that, since no other process can have been
	// told otherwise by a store it cannot reach either.
	Unavailable(err error) bool
}

// Defaults for Config.
const (
	DefaultRetry = 2 * time.Second
	DefaultPing  = 2 * time.Second
	// connectTimeout bounds opening the lock's session.
	connectTimeout = 5 * time.Second
	// checkTimeout bounds the leader's check that it still holds the lock. A check that times
	// out counts as lost, so it is generous: a busy store should not make the leader step down
	// (a standby gets the lock only once the store frees it, whatever this process decides).
	checkTimeout = 5 * time.Second
	// releaseTimeout bounds giving the lock back at Stop.
	releaseTimeout = 2 * time.Second
)

// Config configures an Elector. Zero durations take the defaults.
type Config struct {
	Lock Lock
	// Retry is how often a standby tries to take the lock.
	Retry time.Duration
	// Ping is how often the leader checks that it still holds it.
	Ping   time.Duration
	Logger *slog.Logger
	// OnChange, if set, is called with the new state each time leadership is gained or lost,
	// from the Elector's goroutine.
	OnChange func(leading bool)
}

// Elector campaigns for one lock from Start until Stop. It holds the lock on a session for as
// long as it leads; the session ending (this process dying, its connection dropping) frees
// the lock, and a standby takes it at its next attempt.
type Elector struct {
	c   Config
	log *slog.Logger

	leading atomic.Bool

	mu     sync.Mutex // guards cancel
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns an Elector that has not started campaigning.
func New(c Config) *Elector {
	c.Retry = cmp.Or(c.Retry, DefaultRetry)
	c.Ping = cmp.Or(c.Ping, DefaultPing)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return &Elector{c: c, log: c.Logger}
}

// Start begins campaigning in a goroutine, until Stop or until ctx ends. A caller that must
// decide when the lock is given back (after its last leader's act) passes a context that does
// not end and calls Stop.
func (e *Elector) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil {
		return
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.done.Go(func() { e.run(ctx) })
}

// Stop stops campaigning, gives the lock back if it is held and closes the session. It
// returns once all of that is done; a second Stop, or a Stop without Start, does nothing.
func (e *Elector) Stop() {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.done.Wait()
}

// IsLeader reports whether this process holds the lock as far as it last checked.
func (e *Elector) IsLeader() bool { return e.leading.Load() }

func (e *Elector) set(leading bool) {
	if e.leading.Swap(leading) != leading && e.c.OnChange != nil {
		e.c.OnChange(leading)
	}
}

// run campaigns until ctx ends, then releases the lock and closes the session.
func (e *Elector) run(ctx context.Context) {
	defer e.release()
	for ctx.Err() == nil {
		won, err := e.try(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "leader election: try lock", "err", err)
			e.drop()
		}
		for won && ctx.Err() == nil {
			e.log.InfoContext(ctx, "leader election: leading")
			e.set(true)
			err := e.hold(ctx)
			won = false
			if ctx.Err() == nil && e.c.Lock.Unavailable(err) {
				// The store is out of reach, not taken by another process: keep leading
				// from memory until it answers again, then take the lock back or, if a
				// standby got it meanwhile, stand by.
				won = e.leadUnlocked(ctx)
			}
		}
		if e.leading.Load() {
			e.set(false)
			if ctx.Err() == nil {
				e.log.WarnContext(ctx, "leader election: lost the lock, standing by")
			}
		}
		// After losing the lock too: a process whose connection was cut waits its turn like
		// any standby instead of grabbing the lock back at once.
		loop.Sleep(ctx, e.c.Retry)
	}
}

// try opens the session if needed and tries the lock once.
func (e *Elector) try(ctx context.Context) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err := e.c.Lock.Connect(cctx)
	cancel()
	if err != nil {
		return false, err
	}
	tctx, cancel := context.WithTimeout(ctx, max(e.c.Retry, time.Second))
	defer cancel()
	return e.c.Lock.TryAcquire(tctx)
}

// hold returns when ctx ends or the session that holds the lock stops answering, with the
// error of the failed check (nil if the lock was simply no longer held). Losing the session
// is losing the lock: the store frees it with the session.
func (e *Elector) hold(ctx context.Context) error {
	var lost error
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	loop.Every(hctx, e.c.Ping, func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, checkTimeout)
		held, err := e.c.Lock.Held(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && e.c.Lock.Unavailable(err):
			e.log.WarnContext(ctx, "leader election: the store is unreachable; leading from memory until it returns", "err", err)
			e.drop()
		case err != nil || !held:
			e.set(false) // stop leading before anything else
			e.log.WarnContext(ctx, "leader election: lock check failed", "err", err, "held", held)
			e.drop()
		default:
			return
		}
		lost = err
		stop()
	})
	return lost
}

// leadUnlocked keeps this process leading without the lock while the store cannot be
// reached, trying every retry period to take the lock back. It reports true once the lock is
// retaken, false when another process holds it (or ctx ends): then this one stands by.
//
// Two processes may lead at once meanwhile (a standby that still reaches the store takes the
// freed lock); the scheduler's dispatch script makes that harmless: its fence never queues
// one due time twice and coalescing never queues a pair that is pending. Standing down
// instead would stop every check in the install for as long as the store is away.
func (e *Elector) leadUnlocked(ctx context.Context) bool {
	for {
		loop.Sleep(ctx, e.c.Retry)
		if ctx.Err() != nil {
			return false
		}
		won, err := e.try(ctx)
		switch {
		case won:
			e.log.InfoContext(ctx, "leader election: the store is back and the lock retaken")
			return true
		case err == nil:
			e.log.WarnContext(ctx, "leader election: the store is back and another process leads")
			return false
		case !e.c.Lock.Unavailable(err):
			e.log.WarnContext(ctx, "leader election: retake the lock", "err", err)
			e.drop()
			return false
		}
		e.drop()
	}
}

// drop closes a session that is broken or no longer trusted.
func (e *Elector) drop() {
	if err := e.c.Lock.Close(); err != nil {
		e.log.Debug("leader election: close", "err", err)
	}
}

// release gives the lock back at Stop, so that a standby takes over at its next attempt
// rather than when the store notices the closed session.
func (e *Elector) release() {
	wasLeader := e.leading.Load()
	e.set(false)
	if wasLeader {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		if err := e.c.Lock.Release(ctx); err != nil {
			e.log.Warn("leader election: unlock", "err", err)
		}
		cancel()
	}
	e.drop()
}
