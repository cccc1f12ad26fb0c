// Package loop holds the pacing that every process loop shares: call something every period
// until the context ends, sleep unless the context ends first, and back off between attempts at
// something that failed. Each loop keeps its own timings; this package only writes the select
// statements once.
package loop

import (
	"context"
	"math/rand/v2"
	"time"
)

// Every calls fn every period until ctx ends. The first call comes one period after the start,
// as with a time.Ticker; a call that overruns the period makes the ticker drop ticks rather
// than queue them, so a slow round is never followed by a burst.
func Every(ctx context.Context, period time.Duration, fn func(ctx context.Context)) {
	EveryOrWake(ctx, period, nil, fn)
}

// EveryOrWake is Every, with an extra call each time wake receives (a request to run now, such
// as a resync that a lost connection asks for). The period does not restart after such a call.
func EveryOrWake(ctx context.Context, period time.Duration, wake <-chan struct{}, fn func(ctx context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	everyTick(ctx, t.C, wake, fn)
}

// everyTick calls fn for each value received from ticks or wake until ctx ends. Tests drive it
// with their own channels.
func everyTick(ctx context.Context, ticks <-chan time.Time, wake <-chan struct{}, fn func(ctx context.Context)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		case <-wake:
		}
		if ctx.Err() != nil {
			return
		}
		fn(ctx)
	}
}

// Sleep waits for d, or less if ctx ends first, and reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Backoff spaces the attempts at something that fails: Base, doubling at each failure up to
// Max. With Jitter each wait is drawn from the upper half of its delay ("equal jitter"), so
// that processes that failed together do not retry together. The zero value of the counter
// is ready to use; Reset after a success. A Backoff is not safe for concurrent use.
type Backoff struct {
	Base, Max time.Duration
	Jitter    bool
	// Rand returns a uniform value in [0, n] for the jitter; nil uses math/rand/v2. Tests
	// inject it to pin the waits.
	Rand func(n time.Duration) time.Duration

	n int
}

// Delay is the delay of the next attempt without jitter: Base × 2^failures, capped at Max.
func (b *Backoff) Delay() time.Duration {
	d := b.Base
	for i := 0; i < b.n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Next returns the wait before the next attempt, jitter included, and counts one failure.
func (b *Backoff) Next() time.Duration {
	d := b.Delay()
	b.n++
	if !b.Jitter {
		return d
	}
	r := b.Rand
	if r == nil {
		r = func(n time.Duration) time.Duration { return rand.N(n + 1) }
	}
	return d/2 + r(d/2)
}

// Wait sleeps for Next(), or less if ctx ends first, and reports whether ctx is still live.
func (b *Backoff) Wait(ctx context.Context) bool { return Sleep(ctx, b.Next()) }

// Reset starts the delays again from Base, after a success.
func (b *Backoff) Reset() { b.n = 0 }
