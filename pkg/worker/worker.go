// Package worker is the region worker's process loop: it reads due checks from the region's
// stream, probes them with bounded concurrency, hands each result to the InfluxDB writer and
// then completes the job (pair state, transition event, retry schedule, pending marker and
// XACK in one atomic step, see queue.StateStore). Jobs that a dead consumer left pending are
// reclaimed; jobs that keep failing go to the dead-letter stream.
//
// Shutdown order, when Run's context is cancelled:
//  1. stop reading and reclaiming: no new job starts;
//  2. let the checks in flight finish, for up to 3/4 of ShutdownTimeout; checks still running are
//     cancelled and abandoned unrecorded (a cancelled check says nothing about the target), so
//     their jobs stay pending and another consumer reclaims them;
//  3. flush the InfluxDB writer, so the results of finished checks are posted;
//  4. complete (and so ACK) the finished checks that are still waiting in the completion batch;
//  5. return, within ShutdownTimeout of the cancel. The caller then closes the writer and the
//     Redis client.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// Defaults of Params.
const (
	DefaultConcurrency     = 256
	DefaultShutdownTimeout = 20 * time.Second
	// DefaultReclaimGrace is added to a job's own timeout before another consumer's pending
	// job is presumed abandoned and reclaimed: room for the completion after the deadline, a
	// slow Redis round trip and clock noise, short enough that a crashed worker's checks run
	// again well within a typical interval.
	DefaultReclaimGrace = 15 * time.Second
	// DefaultCompleteWait is how long a completion batch gathers finished jobs before it runs:
	// long enough to turn thousands of checks per second into a few dozen round trips, short
	// against a check's own duration.
	DefaultCompleteWait  = 2 * time.Millisecond
	DefaultCompleteBatch = 512
	DefaultCompleters    = 2
	// DefaultMaxReadBatch caps how many entries one XREADGROUP asks for. A read asks for as
	// many entries as there are free slots, so that a worker with thousands of slots refills
	// them in a few round trips rather than in chunks of a hundred; the cap keeps one reply
	// (and its decoding) to a few milliseconds.
	DefaultMaxReadBatch = 1000
	DefaultReaders      = 2
)

// Prober runs one check of a job, with the prober of its check type. *probe.Registry is the
// real one. It never panics and always returns a verdict, bounded by the job's timeout.
type Prober interface {
	Probe(ctx context.Context, job monitor.Job) monitor.Result
}

// ResultWriter takes check results for the time-series store. influxdb.Writer is the real one.
// Write returns once the result is handed over (the job may then be acked); Flush posts
// everything handed over so far.
type ResultWriter interface {
	Write(ctx context.Context, r monitor.Result) error
	Flush(ctx context.Context) error
}

// Metrics receives what the worker counts; metrics.Worker implements it. Optional.
type Metrics interface {
	ObserveCheck(outcome monitor.Outcome, took time.Duration)
	CheckStarted() (done func())
	Reclaimed(n int)
	DeadLettered(n int)
	Transition(state monitor.State)
	// CheckFault counts a check the worker could not run for a fault of its own (reason
	// probe.ReasonWorker).
	CheckFault(reason string)
}

// Params configures a Worker. Zero values take the defaults.
type Params struct {
	Region   string
	Consumer *queue.Consumer
	States   *queue.StateStore
	Prober   Prober
	Writer   ResultWriter
	Metrics  Metrics
	Logger   *slog.Logger
	// Now is the clock that stamps completion times and the retry schedule. Default time.Now.
	Now func() time.Time

	// Concurrency bounds the checks running at once.
	Concurrency int
	// ReadBatch bounds the entries one XREADGROUP asks for; a read asks for the free slots up
	// to it. Default min(Concurrency, DefaultMaxReadBatch).
	ReadBatch int
	// Readers is how many reads may be in flight at once. While one read waits for Redis and
	// decodes its reply, the slots that checks free meanwhile go to the next read instead of
	// sitting idle; at thousands of checks per second that is hundreds of slots. Default 2.
	Readers int
	// ReclaimGrace is how much longer than its job's own timeout an entry must have been
	// pending on a consumer before that consumer is presumed dead and the entry reclaimed (see
	// queue.Consumer.Reclaim), so that no live check is taken over. Default DefaultReclaimGrace.
	ReclaimGrace time.Duration
	// ReclaimEvery is how often the reclaimer looks. Default ReclaimGrace/4, at most 5 s.
	ReclaimEvery    time.Duration
	ShutdownTimeout time.Duration

	CompleteWait  time.Duration
	CompleteBatch int
	Completers    int
}

// Worker is one consumer of a region's check stream.
type Worker struct {
	p     Params
	log   *slog.Logger
	stats Stats

	sem         chan struct{}
	completions chan queue.Completion

	lastFaultLog atomic.Int64 // unix nanoseconds of the last logFault line
	pausedUntil  atomic.Int64 // unix nanoseconds until which no job is taken, after a fault
}

// New returns a worker; Run starts it.
func New(p Params) (*Worker, error) {
	if p.Consumer == nil || p.States == nil || p.Prober == nil || p.Writer == nil {
		return nil, errors.New("worker: Consumer, States, Prober and Writer are required")
	}
	if p.Region == "" {
		return nil, errors.New("worker: empty region")
	}
	p.Concurrency = cmp.Or(p.Concurrency, DefaultConcurrency)
	p.ReadBatch = cmp.Or(p.ReadBatch, min(p.Concurrency, DefaultMaxReadBatch))
	p.Readers = cmp.Or(p.Readers, DefaultReaders)
	p.ReclaimGrace = cmp.Or(p.ReclaimGrace, DefaultReclaimGrace)
	p.ReclaimEvery = cmp.Or(p.ReclaimEvery, max(min(p.ReclaimGrace/4, 5*time.Second), 10*time.Millisecond))
	p.ShutdownTimeout = cmp.Or(p.ShutdownTimeout, DefaultShutdownTimeout)
	p.CompleteWait = cmp.Or(p.CompleteWait, DefaultCompleteWait)
	p.CompleteBatch = cmp.Or(p.CompleteBatch, DefaultCompleteBatch)
	p.Completers = cmp.Or(p.Completers, DefaultCompleters)
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Metrics == nil {
		p.Metrics = nopMetrics{}
	}
	return &Worker{
		p:           p,
		log:         p.Logger.With("region", p.Region, "consumer", p.Consumer.Name()),
		sem:         make(chan struct{}, p.Concurrency),
		completions: make(chan queue.Completion, 2*p.CompleteBatch),
	}, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() *Stats { return &w.stats }

// Run works until ctx is cancelled, then stops in the order the package documents. It returns
// nil after a clean stop, or an error if it could not start.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.start(ctx); err != nil {
		return err
	}
	w.checkFileLimit()
	w.log.Info("worker started", "concurrency", w.p.Concurrency, "reclaim_grace", w.p.ReclaimGrace.String())

	// Checks and completions outlive ctx: they run on work, which ends only when the shutdown
	// deadline passes, and on final, which ends after the last completion batch.
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	final, stopFinal := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFinal()

	var jobs, feeders, completers sync.WaitGroup
	for range w.p.Completers {
		completers.Go(func() { w.complete(final) })
	}
	for range w.p.Readers {
		feeders.Go(func() { w.read(ctx, work, &jobs) })
	}
	feeders.Go(func() { w.reclaim(ctx, work, &jobs) })

	<-ctx.Done()
	// ShutdownTimeout bounds the whole stop: running checks get three quarters of it, the
	// flush and the last completions the rest (they take milliseconds unless a store fails).
	stopBy := time.Now().Add(w.p.ShutdownTimeout)
	w.log.Info("worker stopping: no new checks", "in_flight", len(w.sem))
	feeders.Wait()

	deadline := time.AfterFunc(time.Until(stopBy.Add(-w.p.ShutdownTimeout/4)), func() {
		w.log.Warn("shutdown timeout: abandoning the checks still running", "in_flight", len(w.sem))
		abandon()
	})
	jobs.Wait()
	deadline.Stop()

	flushCtx, cancelFlush := context.WithDeadline(final, stopBy)
	defer cancelFlush()
	if err := w.p.Writer.Flush(flushCtx); err != nil {
		w.log.Error("flush results on shutdown", "err", err)
	}
	close(w.completions)
	done := make(chan struct{})
	go func() { completers.Wait(); close(done) }()
	select {
	case <-done:
	case <-flushCtx.Done():
		w.log.Error("completions still failing at shutdown; their jobs stay pending and will be reclaimed")
		stopFinal()
		<-done
	}
	s := w.stats.Snapshot()
	w.log.Info("worker stopped", "checks", s.Checks, "completed", s.Completed, "abandoned", s.Abandoned)
	return nil
}

// start joins the consumer group and loads the completion script, retrying while Redis is not
// there yet, so that a worker started before Redis waits for it.
func (w *Worker) start(ctx context.Context) error {
	b := newBackoff()
	for {
		err := w.p.Consumer.EnsureGroup(ctx)
		if err == nil {
			err = w.p.States.Load(ctx)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("worker: start: %w", err)
		}
		w.log.Warn("cannot join the consumer group yet", "err", err)
		if !b.Wait(ctx) {
			return fmt.Errorf("worker: start: %w", ctx.Err())
		}
	}
}

// read feeds new entries to checks, asking Redis for no more entries than there are free
// slots, so that an entry never waits in this process (where it would age towards a reclaim)
// for lack of a slot.
func (w *Worker) read(ctx, work context.Context, jobs *sync.WaitGroup) {
	b := newBackoff()
	for {
		n, ok := w.readSlots(ctx)
		if !ok {
			return
		}
		ds, err := w.p.Consumer.Read(ctx, n)
		w.release(n - len(ds))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Error("read jobs", "err", err)
			if !b.Wait(ctx) {
				return
			}
			continue
		}
		b.Reset()
		for _, d := range ds {
			jobs.Go(func() { w.run(work, d) })
		}
	}
}

// reclaim periodically takes over entries that other (dead) consumers left pending.
func (w *Worker) reclaim(ctx, work context.Context, jobs *sync.WaitGroup) {
	loop.Every(ctx, w.p.ReclaimEvery, func(ctx context.Context) { w.reclaimRound(ctx, work, jobs) })
}

// reclaimRound reclaims batch after batch until a batch comes back short, a pass fails or ctx
// ends.
func (w *Worker) reclaimRound(ctx, work context.Context, jobs *sync.WaitGroup) {
	for ctx.Err() == nil {
		n, ok := w.readSlots(ctx)
		if !ok {
			return
		}
		res, err := w.p.Consumer.Reclaim(ctx, w.p.ReclaimGrace, n)
		w.release(n - len(res.Deliveries))
		if res.DeadLettered > 0 {
			w.stats.DeadLettered.Add(uint64(res.DeadLettered))
			w.p.Metrics.DeadLettered(res.DeadLettered)
		}
		if len(res.Deliveries) > 0 {
			w.stats.Reclaimed.Add(uint64(len(res.Deliveries)))
			w.p.Metrics.Reclaimed(len(res.Deliveries))
			w.log.Info("reclaimed jobs from a dead consumer", "count", len(res.Deliveries))
		}
		// Claimed entries are ours even when the pass then failed: run them (they hold
		// their slots).
		for _, d := range res.Deliveries {
			jobs.Go(func() { w.run(work, d) })
		}
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("reclaim jobs", "err", err)
			}
			break
		}
		if len(res.Deliveries)+res.DeadLettered < n {
			break
		}
	}
}

// readSlots takes the slots of one read (at least one, at most ReadBatch) and then waits out a
// fault pause; false, holding no slot, if ctx ended first.
func (w *Worker) readSlots(ctx context.Context) (int, bool) {
	n, ok := w.acquire(ctx, w.p.ReadBatch)
	if !ok {
		return 0, false
	}
	if !w.waitFaultPause(ctx) {
		w.release(n)
		return 0, false
	}
	return n, true
}

// acquire takes at least one and at most max check slots, waiting for the first.
func (w *Worker) acquire(ctx context.Context, max int) (int, bool) {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	}
	n := 1
	for n < max {
		select {
		case w.sem <- struct{}{}:
			n++
		default:
			return n, true
		}
	}
	return n, true
}

func (w *Worker) release(n int) {
	for range n {
		<-w.sem
	}
}

// run checks one job, hands the result to the writer and queues the job's completion. The slot
// is released once the completion is queued: completing is batched and cheap, and holding the
// slot through it would make the batch wait longer than the check.
func (w *Worker) run(work context.Context, d queue.Delivery) {
	defer w.release(1)
	done := w.p.Metrics.CheckStarted()
	start := time.Now()
	res := w.p.Prober.Probe(work, d.Job)
	took := time.Since(start)
	done()
	if work.Err() != nil || res.Reason == probe.ReasonCanceled {
		// Cancelled by the shutdown deadline: not a result, it says nothing about the target.
		// It is neither recorded nor acked; the job stays pending for another consumer.
		w.stats.Abandoned.Add(1)
		return
	}
	if res.Reason == probe.ReasonWorker {
		// This process ran out of descriptors or buffers: no verdict on the target either.
		// The job stays pending and is reclaimed (here, once resources are back, or by another
		// consumer); the fault is counted and alerted on, never reported as the site down.
		w.stats.Faults.Add(1)
		w.p.Metrics.CheckFault(res.Reason)
		w.logFault(d.Job.WebsiteID, res.Message)
		w.pausedUntil.Store(time.Now().Add(faultPause).UnixNano())
		return
	}
	res.WebsiteID = cmp.Or(res.WebsiteID, d.Job.WebsiteID)
	res.Region = cmp.Or(res.Region, w.p.Region)
	if res.At.IsZero() {
		res.At = w.p.Now().Add(-took)
	}
	if err := w.p.Writer.Write(work, res); err != nil {
		// Not handed over: do not ack; the job is redelivered through a reclaim.
		w.stats.Abandoned.Add(1)
		w.log.Error("hand result to the writer", "website_id", d.Job.WebsiteID, "err", err)
		return
	}
	w.stats.countCheck(res.Outcome)
	w.p.Metrics.ObserveCheck(res.Outcome, took)
	select {
	case w.completions <- queue.Completion{Delivery: d, Result: res, Now: w.p.Now()}:
	case <-work.Done():
		// Completions are stuck (Redis is failing) and the stop ran out of time. The job stays
		// pending; its rerun writes a second point, which is better than a lost state update.
		w.stats.Abandoned.Add(1)
	}
}

// faultPause is how long the worker takes no new job after a fault of its own, so that a
// worker out of descriptors does not drain the stream into jobs it cannot run (other consumers
// take them meanwhile) and its checks in flight can give their descriptors back.
const faultPause = time.Second

// waitFaultPause waits out a pause that a fault started; false if ctx ended first.
func (w *Worker) waitFaultPause(ctx context.Context) bool {
	d := time.Until(time.Unix(0, w.pausedUntil.Load()))
	if d <= 0 {
		return true
	}
	return loop.Sleep(ctx, d)
}

// faultLogEvery spaces the log lines about the worker's own faults: when a worker runs out of
// descriptors every check fails at once, and the metric counts them all.
const faultLogEvery = 10 * time.Second

// logFault logs a check the worker could not run, at most once per faultLogEvery.
func (w *Worker) logFault(websiteID, msg string) {
	now := time.Now().UnixNano()
	last := w.lastFaultLog.Load()
	if now-last < int64(faultLogEvery) || !w.lastFaultLog.CompareAndSwap(last, now) {
		return
	}
	w.log.Error("the worker cannot run checks: its own resources ran out; the jobs stay pending and are retried",
		"website_id", websiteID, "err", msg, "faults", w.stats.Faults.Load())
}

// complete gathers finished jobs for up to CompleteWait (or CompleteBatch jobs) and completes
// them in one pipelined call, until the completions channel is closed and drained.
func (w *Worker) complete(ctx context.Context) {
	batch := make([]queue.Completion, 0, w.p.CompleteBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		c, ok := <-w.completions
		if !ok {
			return
		}
		batch = append(batch[:0], c)
		timer.Reset(w.p.CompleteWait)
	gather:
		for len(batch) < w.p.CompleteBatch {
			select {
			case c, ok := <-w.completions:
				if !ok {
					break gather
				}
				batch = append(batch, c)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		w.completeBatch(ctx, batch)
	}
}

// completeBatch completes a batch, retrying with backoff while Redis fails as a whole, so that
// a Redis blip delays acks instead of losing results. It gives up only when ctx ends (a stop
// that ran out of time); the jobs then stay pending and are reclaimed.
func (w *Worker) completeBatch(ctx context.Context, batch []queue.Completion) {
	b := newBackoff()
	for {
		res, err := w.p.States.Complete(ctx, batch)
		if err == nil {
			for i, r := range res {
				w.completed(batch[i], r)
			}
			return
		}
		w.stats.CompleteErrors.Add(1)
		w.log.Error("complete jobs", "count", len(batch), "err", err)
		if !b.Wait(ctx) {
			return
		}
	}
}

func (w *Worker) completed(c queue.Completion, r queue.Completed) {
	switch {
	case r.Err != nil:
		w.stats.CompleteErrors.Add(1)
		w.log.Error("complete job", "id", c.Delivery.ID, "website_id", c.Delivery.Job.WebsiteID, "err", r.Err)
		return
	case r.Duplicate:
		w.stats.Duplicates.Add(1)
	}
	w.stats.Completed.Add(1)
	if t := r.Transition; t != nil {
		w.stats.Transitions.Add(1)
		w.p.Metrics.Transition(t.To)
		w.log.Info("state confirmed", "website_id", t.WebsiteID, "from", t.From, "to", t.To,
			"at", t.At, "outcome", t.Outcome, "reason", t.Reason)
	}
}

// Stats are the worker's own counters, for tests, benchmarks and whatever exports them.
type Stats struct {
	checks         [5]atomic.Uint64 // by outcome, in outcomeIndex order
	Completed      atomic.Uint64
	Duplicates     atomic.Uint64
	Transitions    atomic.Uint64
	Reclaimed      atomic.Uint64
	DeadLettered   atomic.Uint64
	Abandoned      atomic.Uint64
	CompleteErrors atomic.Uint64
	// Faults counts checks the worker could not run for lack of its own resources; their jobs
	// stay pending.
	Faults atomic.Uint64
}

var outcomes = [5]monitor.Outcome{monitor.OutcomeUp, monitor.OutcomeDegraded, monitor.OutcomeDown, monitor.OutcomeTimeout, monitor.OutcomeBlocked}

func (s *Stats) countCheck(o monitor.Outcome) {
	for i, k := range outcomes {
		if k == o {
			s.checks[i].Add(1)
			return
		}
	}
}

// Checks returns how many checks ended with outcome o.
func (s *Stats) Checks(o monitor.Outcome) uint64 {
	for i, k := range outcomes {
		if k == o {
			return s.checks[i].Load()
		}
	}
	return 0
}

// StatsSnapshot is a copy of Stats at one moment.
type StatsSnapshot struct {
	Checks, Completed, Duplicates, Transitions, Reclaimed, DeadLettered, Abandoned, CompleteErrors, Faults uint64
	ByOutcome                                                                                              map[monitor.Outcome]uint64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	out := StatsSnapshot{ByOutcome: map[monitor.Outcome]uint64{}}
	for i, o := range outcomes {
		n := s.checks[i].Load()
		out.ByOutcome[o] = n
		out.Checks += n
	}
	out.Completed = s.Completed.Load()
	out.Duplicates = s.Duplicates.Load()
	out.Transitions = s.Transitions.Load()
	out.Reclaimed = s.Reclaimed.Load()
	out.DeadLettered = s.DeadLettered.Load()
	out.Abandoned = s.Abandoned.Load()
	out.CompleteErrors = s.CompleteErrors.Load()
	out.Faults = s.Faults.Load()
	return out
}

type nopMetrics struct{}

func (nopMetrics) ObserveCheck(monitor.Outcome, time.Duration) {}
func (nopMetrics) CheckStarted() func()                        { return func() {} }
func (nopMetrics) Reclaimed(int)                               {}
func (nopMetrics) DeadLettered(int)                            {}
func (nopMetrics) Transition(monitor.State)                    {}
func (nopMetrics) CheckFault(string)                           {}

// newBackoff waits 100 ms, doubling to 5 s, with jitter, between attempts at something that
// failed.
func newBackoff() loop.Backoff {
	return loop.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true}
}
