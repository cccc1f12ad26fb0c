// Package scheduler turns every enabled (website, region) pair into a due check in its region's
// Redis stream. It holds the pairs in memory in a compact due-time heap, spreads each website's
// checks over its interval with a deterministic phase, follows changes through PostgreSQL
// LISTEN/NOTIFY with a periodic full resync behind it, and lets only the elected leader
// dispatch. Coalescing (no second check while one is pending) and the fence (no due time
// dispatched twice, even by two leaders in a split-brain moment) live in Redis, in
// queue.Dispatcher's script.
//
// Shutdown order (Run returns after all of it): stop ticking, so nothing new is dispatched;
// finish the dispatch call in flight (bounded by dispatchTimeout); release the leader lock, so
// a standby takes over at its next attempt; close the LISTEN connection.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/vigil-monitor/vigil/pkg/leadership"
	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// Defaults for Params.
const (
	// DefaultTick bounds how late a check is enqueued: a pair that falls due just after a tick
	// waits for the next one. At 25 ms the p99 lateness stays well under issue 8's 100 ms, and
	// a tick with nothing due costs one heap peek.
	DefaultTick           = 25 * time.Millisecond
	DefaultResyncInterval = 5 * time.Minute
	DefaultLeaderRetry    = leadership.DefaultRetry
	DefaultLeaderPing     = leadership.DefaultPing
	DefaultPendingGrace   = 60 * time.Second
	// DefaultTakeoverWindow is how far back a new leader re-dispatches due times that the old
	// leader may have missed while it was dying. The fence skips the ones it did dispatch.
	DefaultTakeoverWindow = 30 * time.Second
)

const (
	// dispatchChunk is how many due pairs one dispatch round pops, so that the schedule lock
	// is held briefly and a backlog goes out in several pipelines rather than one huge one.
	dispatchChunk = 20_000
	// maxNotifyIDs is how many changed websites are applied one by one; more at once (a bulk
	// import) is cheaper as a full resync.
	maxNotifyIDs = 5_000
	// dispatchTimeout bounds one dispatch round, including the one in flight at shutdown.
	dispatchTimeout = 10 * time.Second
	// retryPoll is how often the leader takes due retries out of Redis: one call per region,
	// so not every tick. Retries are seconds apart; 100 ms of lateness does not matter there.
	retryPoll = 100 * time.Millisecond
)

// Clock tells the time. Tests inject their own to decide due times.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Recorder receives the scheduler's measurements. *metrics.Scheduler implements it.
type Recorder interface {
	InitRegion(region string)
	Dispatched(region string, n int)
	Coalesced(region string, n int)
	ObserveDispatchLag(lag time.Duration)
	SetLeader(leading bool)
	SetPairs(n int)
	Resynced(err error)
}

// duplicateRecorder is implemented by recorders that also count fenced duplicates.
type duplicateRecorder interface {
	Duplicates(region string, n int)
}

type nopRecorder struct{}

func (nopRecorder) InitRegion(string)                {}
func (nopRecorder) Dispatched(string, int)           {}
func (nopRecorder) Coalesced(string, int)            {}
func (nopRecorder) ObserveDispatchLag(time.Duration) {}
func (nopRecorder) SetLeader(bool)                   {}
func (nopRecorder) SetPairs(int)                     {}
func (nopRecorder) Resynced(error)                   {}

// Params configures a Scheduler. Zero durations take the defaults.
type Params struct {
	// DB gives the pairs, the region names, the LISTEN connection and the leader lock.
	DB *postgres.DB
	// Dispatcher queues the due checks; RegionKeys finds and drops deleted regions' keys.
	Dispatcher *queue.Dispatcher
	RegionKeys *queue.RegionKeys
	Logger     *slog.Logger
	Clock      Clock
	// Recorder receives metrics; nil records nothing.
	Recorder Recorder
	// Instance names this process in logs and in pg_stat_activity's application_name.
	Instance string

	Tick           time.Duration
	ResyncInterval time.Duration
	LeaderRetry    time.Duration
	LeaderPing     time.Duration
	TakeoverWindow time.Duration
	// PendingGrace is added to a check's timeout to give its pending marker's lifetime.
	PendingGrace time.Duration
}

// Stats are the scheduler's counters since start.
type Stats struct {
	Dispatched, Coalesced, Duplicates, Retries uint64
	Resyncs                                    uint64
}

// changeFeed passes on the ids of changed websites as PostgreSQL announces them
// (*postgres.Listener).
type changeFeed interface {
	Listen(ctx context.Context, listening func(again bool), notify func(payload string))
}

// Scheduler dispatches due checks. Build it with New and run it with Run.
type Scheduler struct {
	p       Params
	log     *slog.Logger
	rec     Recorder
	store   *postgres.PairStore
	regions *postgres.RegionStore
	changes changeFeed
	disp    *queue.Dispatcher
	elect   *leadership.Elector
	// leads is elect.IsLeader; benchmarks replace it to make a scheduler lead without a lock.
	leads func() bool

	mu    sync.Mutex // guards sched
	sched *schedule

	chMu    sync.Mutex // guards changed and all
	changed map[string]struct{}
	all     bool
	signal  chan struct{}
	resyncC chan struct{}

	syncMu    sync.Mutex // guards resyncing and touched
	resyncing bool
	touched   map[string]struct{}

	ready chan struct{}

	lastRetryPoll time.Time // only the tick loop touches it

	dispatched, coalesced, duplicates, retries, resyncs atomic.Uint64
}

// New returns a Scheduler. It does no I/O until Run.
func New(p Params) (*Scheduler, error) {
	if p.DB == nil || p.Dispatcher == nil || p.RegionKeys == nil {
		return nil, errors.New("scheduler: DB, Dispatcher and RegionKeys are required")
	}
	p.Logger = cmp.Or(p.Logger, slog.Default())
	if p.Clock == nil {
		p.Clock = systemClock{}
	}
	p.Tick = cmp.Or(p.Tick, DefaultTick)
	p.ResyncInterval = cmp.Or(p.ResyncInterval, DefaultResyncInterval)
	p.LeaderRetry = cmp.Or(p.LeaderRetry, DefaultLeaderRetry)
	p.LeaderPing = cmp.Or(p.LeaderPing, min(DefaultLeaderPing, p.LeaderRetry))
	p.TakeoverWindow = cmp.Or(p.TakeoverWindow, DefaultTakeoverWindow)
	p.PendingGrace = cmp.Or(p.PendingGrace, DefaultPendingGrace)
	p.Instance = cmp.Or(p.Instance, "scheduler")
	rec := p.Recorder
	if rec == nil {
		rec = nopRecorder{}
	}
	log := p.Logger.With("instance", p.Instance)
	s := &Scheduler{
		p:       p,
		log:     log,
		rec:     rec,
		store:   p.DB.Pairs(),
		regions: p.DB.Regions(),
		changes: p.DB.Listener(postgres.SessionParams{ApplicationName: ApplicationName(p.Instance, "listen")}, log),
		disp:    p.Dispatcher,
		sched:   newSchedule(),
		changed: map[string]struct{}{},
		signal:  make(chan struct{}, 1),
		resyncC: make(chan struct{}, 1),
		ready:   make(chan struct{}),
	}
	// A leader cut off by the network (not dead, so no RST) keeps its lock until PostgreSQL
	// notices the silent socket: keepalives bound that to about 11 s, inside the 15 s a
	// standby has to take over.
	lock := p.DB.AdvisoryLock(postgres.SchedulerLease,
		postgres.SessionParams{ApplicationName: ApplicationName(p.Instance, "leader"), Keepalive: true})
	s.elect = leadership.New(leadership.Config{
		Lock: lock, Retry: p.LeaderRetry, Ping: p.LeaderPing, Logger: log, OnChange: rec.SetLeader,
	})
	s.leads = s.elect.IsLeader
	return s, nil
}

// Ready is closed once the first full load has finished.
func (s *Scheduler) Ready() <-chan struct{} { return s.ready }

// IsLeader reports whether this scheduler dispatches.
func (s *Scheduler) IsLeader() bool { return s.leads() }

// Pairs is the number of (website, region) pairs held.
func (s *Scheduler) Pairs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched.len()
}

// Stats returns the counters since start.
func (s *Scheduler) Stats() Stats {
	return Stats{
		Dispatched: s.dispatched.Load(), Coalesced: s.coalesced.Load(),
		Duplicates: s.duplicates.Load(), Retries: s.retries.Load(), Resyncs: s.resyncs.Load(),
	}
}

// PairInfo is what the schedule holds for one pair.
type PairInfo struct {
	NextDue  time.Time
	Interval time.Duration
	URL      string
}

// Lookup returns the schedule of one pair, or false if the scheduler does not hold it.
func (s *Scheduler) Lookup(websiteID, region string) (PairInfo, bool) {
	id, err := uuid.Parse(websiteID)
	if err != nil {
		return PairInfo{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.sched.find(id, region)
	if p < 0 {
		return PairInfo{}, false
	}
	st := &s.sched.sites[s.sched.pairs[p].site]
	return PairInfo{
		NextDue:  time.UnixMilli(s.sched.heap[s.sched.pairs[p].heapPos].due),
		Interval: time.Duration(st.intervalS) * time.Second,
		URL:      st.url,
	}, true
}

// Run loads the schedule and runs until ctx ends: LISTEN for changes, resync periodically,
// campaign for leadership and, while leading, dispatch what is due every tick. It returns nil
// after a clean shutdown (see the package doc for the order).
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.disp.Load(ctx); err != nil {
		s.log.WarnContext(ctx, "scheduler: load scripts (will retry on first dispatch)", "err", err)
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	listening := make(chan struct{})
	bg.Go(func() { s.listen(ctx, listening) })
	// LISTEN before the first load, so that no change falls between the two.
	select {
	case <-listening:
	case <-ctx.Done():
		return nil
	}
	// Campaign and tick while the first load runs: pairs are dispatched as soon as they are
	// read, instead of a load's worth of them (seconds, at a million pairs) all late at once.
	// The elector outlives the tick loop, so that the lock is released only after the last
	// dispatch has returned.
	s.elect.Start(context.WithoutCancel(ctx))
	var tick sync.WaitGroup
	tick.Go(func() { s.tickLoop(ctx) })
	defer func() {
		tick.Wait()
		s.elect.Stop()
	}()

	b := loop.Backoff{Base: 100 * time.Millisecond, Max: 10 * time.Second}
	for {
		err := s.resync(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.ErrorContext(ctx, "scheduler: initial load", "err", err)
		b.Wait(ctx)
	}
	close(s.ready)
	s.log.InfoContext(ctx, "scheduler: schedule loaded", "pairs", s.Pairs())
	bg.Go(func() { s.applyLoop(ctx) })
	bg.Go(func() { s.resyncLoop(ctx) })
	bg.Go(func() { s.sweepOrphans(ctx) })
	<-ctx.Done()
	return nil
}

func (s *Scheduler) tickLoop(ctx context.Context) {
	loop.Every(ctx, s.p.Tick, s.tick)
}

// tick dispatches what is due, or keeps a standby's schedule moving.
func (s *Scheduler) tick(ctx context.Context) {
	now := s.p.Clock.Now()
	if !s.leads() {
		s.keepUp(now)
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dispatchTimeout)
	err := s.dispatchDue(dctx, now)
	cancel()
	if err != nil {
		s.log.ErrorContext(ctx, "scheduler: dispatch", "err", err)
	}
}

// keepUp moves a standby's schedule along without dispatching, but only up to the takeover
// window: what fell due in the window is left for this process to dispatch if it takes over,
// and the fence skips whatever the old leader already queued.
func (s *Scheduler) keepUp(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sched.popDue(now.Add(-s.p.TakeoverWindow).UnixMilli(), math.MaxInt, nil)
}

// dispatchDue enqueues the retries and the pairs that are due at now.
func (s *Scheduler) dispatchDue(ctx context.Context, now time.Time) error {
	nowMS := now.UnixMilli()
	grace := s.p.PendingGrace.Milliseconds()
	jobs := map[string][]queue.DispatchJob{}
	var arena []byte
	add := func(p int32, due int64, retry bool) {
		sc := s.sched
		pr := sc.pairs[p]
		st := &sc.sites[pr.site]
		region := sc.regions[pr.region]
		start := len(arena)
		arena = appendJob(arena, st, region, due, retry)
		payload := arena[start:len(arena):len(arena)]
		jobs[region] = append(jobs[region], queue.DispatchJob{
			WebsiteID: string(payload[len(`{"website_id":"`) : len(`{"website_id":"`)+36]),
			DueAt:     due,
			Deadline:  nowMS + int64(st.timeoutMS) + grace,
			Payload:   payload,
		})
	}

	var errs []error
	// Retries first: a confirmation check is what makes an outage known.
	var regions []string
	if now.Sub(s.lastRetryPoll) >= retryPoll || now.Before(s.lastRetryPoll) {
		s.lastRetryPoll = now
		s.mu.Lock()
		regions = s.sched.activeRegions()
		s.mu.Unlock()
	}
	for _, region := range regions {
		due, err := s.disp.PopDueRetries(ctx, region, now, dispatchChunk)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(due) == 0 {
			continue
		}
		s.mu.Lock()
		for _, r := range due {
			id, err := uuid.Parse(r.WebsiteID)
			if err != nil {
				continue
			}
			if p := s.sched.find(id, region); p >= 0 {
				add(p, r.DueAt, true)
				s.retries.Add(1)
			}
		}
		s.mu.Unlock()
	}

	for {
		s.mu.Lock()
		n := s.sched.popDue(nowMS, dispatchChunk, func(p int32, due int64) { add(p, due, false) })
		s.mu.Unlock()
		if len(jobs) > 0 {
			if err := s.send(ctx, nowMS, jobs); err != nil {
				errs = append(errs, err)
			}
		}
		if n < dispatchChunk || !s.leads() || ctx.Err() != nil {
			break
		}
		clear(jobs)
		arena = nil
	}
	return errors.Join(errs...)
}

// send dispatches one round of jobs and records what happened, region by region.
func (s *Scheduler) send(ctx context.Context, nowMS int64, jobs map[string][]queue.DispatchJob) error {
	var errs []error
	// One pipeline per region, so that the counts can be labelled by region. A round holds a
	// handful of regions, so this costs a handful of round trips.
	for region, js := range jobs {
		if len(js) == 0 {
			continue
		}
		c, err := s.disp.Dispatch(ctx, region, nowMS, js)
		enqueued := s.p.Clock.Now().UnixMilli()
		s.dispatched.Add(uint64(c.Dispatched))
		s.coalesced.Add(uint64(c.Coalesced))
		s.duplicates.Add(uint64(c.Duplicates))
		s.rec.Dispatched(region, c.Dispatched)
		s.rec.Coalesced(region, c.Coalesced)
		if d, ok := s.rec.(duplicateRecorder); ok {
			d.Duplicates(region, c.Duplicates)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, j := range js {
			s.rec.ObserveDispatchLag(time.Duration(enqueued-j.DueAt) * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// ApplicationName is the application_name of a scheduler's dedicated connections, so that an
// operator can see in pg_stat_activity which instance holds the leader lock.
func ApplicationName(instance, purpose string) string {
	return "vigil-scheduler " + purpose + " " + instance
}
