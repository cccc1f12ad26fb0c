package scheduler

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// forgetChunk bounds one HDEL when many pairs are removed at once.
const forgetChunk = 1000

// listen follows the changes PostgreSQL announces until ctx ends. It closes listening after
// the first LISTEN succeeds. After a reconnect it asks for a full resync, because
// notifications sent while it was away are lost.
func (s *Scheduler) listen(ctx context.Context, listening chan<- struct{}) {
	s.changes.Listen(ctx, func(again bool) {
		if !again {
			close(listening)
			return
		}
		s.log.InfoContext(ctx, "scheduler: listening again; resyncing what was missed")
		s.notifyChange(postgres.NotifyAll)
	}, s.notifyChange)
}

// notifyChange queues a change for applyLoop. Bursts collapse into one set, which applyLoop
// loads in one query.
func (s *Scheduler) notifyChange(payload string) {
	s.chMu.Lock()
	if payload == postgres.NotifyAll || len(s.changed) >= maxNotifyIDs {
		s.all = true
	} else {
		s.changed[payload] = struct{}{}
	}
	s.chMu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// applyLoop applies queued changes until ctx ends.
func (s *Scheduler) applyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.signal:
		}
		s.chMu.Lock()
		all := s.all
		ids := slices.Collect(maps.Keys(s.changed))
		s.all = false
		clear(s.changed)
		s.chMu.Unlock()
		if all {
			s.requestResync()
			continue
		}
		if err := s.applyIDs(ctx, ids); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "scheduler: apply change; resyncing", "err", err, "websites", len(ids))
			s.requestResync()
		}
	}
}

// applyIDs reloads the given websites and adds, updates or removes their pairs. A website that
// PostgreSQL no longer has, or that is disabled, loses its pairs.
func (s *Scheduler) applyIDs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	// A resync running now may write an older row for these websites after this applies a
	// newer one: it reapplies them when it finishes.
	s.syncMu.Lock()
	if s.resyncing {
		for _, id := range ids {
			s.touched[id] = struct{}{}
		}
	}
	s.syncMu.Unlock()

	seen := make(map[string]bool, len(ids))
	removed := map[string][]string{}
	err := s.store.EachByID(ctx, ids, func(w *postgres.PairWebsite) error {
		seen[w.ID] = true
		now := s.p.Clock.Now().UnixMilli()
		s.mu.Lock()
		gone := s.sched.upsert(w, now, s.sched.epoch)
		s.mu.Unlock()
		for _, r := range gone {
			removed[r] = append(removed[r], w.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		u, err := uuid.Parse(id)
		if err != nil {
			s.log.WarnContext(ctx, "scheduler: ignoring notification that is not a website id", "payload", id)
			continue
		}
		s.mu.Lock()
		gone := s.sched.remove(u)
		s.mu.Unlock()
		for _, r := range gone {
			removed[r] = append(removed[r], id)
		}
	}
	s.afterChange(ctx, removed)
	s.log.DebugContext(ctx, "scheduler: applied changes", "websites", len(ids))
	return nil
}

// afterChange publishes the pair count and clears the Redis markers of removed pairs.
func (s *Scheduler) afterChange(ctx context.Context, removed map[string][]string) {
	s.mu.Lock()
	n := s.sched.len()
	regions := s.sched.activeRegions()
	s.mu.Unlock()
	s.rec.SetPairs(n)
	for _, r := range regions {
		s.rec.InitRegion(r)
	}
	for region, ids := range removed {
		for chunk := range slices.Chunk(ids, forgetChunk) {
			if err := s.disp.Forget(ctx, region, chunk...); err != nil {
				s.log.WarnContext(ctx, "scheduler: forget removed pairs", "err", err, "region", region)
			}
		}
	}
}

func (s *Scheduler) requestResync() {
	select {
	case s.resyncC <- struct{}{}:
	default:
	}
}

// resyncLoop runs a full resync every ResyncInterval and whenever one is requested.
func (s *Scheduler) resyncLoop(ctx context.Context) {
	loop.EveryOrWake(ctx, s.p.ResyncInterval, s.resyncC, func(ctx context.Context) {
		if err := s.resync(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "scheduler: resync", "err", err)
		}
	})
}

// resync reloads every enabled website from PostgreSQL and repairs the schedule: settings
// updated, pairs added and removed. Pairs whose interval did not change keep their due time,
// so a resync never shifts a phase or causes a burst.
func (s *Scheduler) resync(ctx context.Context) (err error) {
	start := time.Now()
	defer func() {
		s.rec.Resynced(err)
		if err == nil {
			s.resyncs.Add(1)
		}
	}()
	s.syncMu.Lock()
	s.resyncing = true
	s.touched = map[string]struct{}{}
	s.syncMu.Unlock()
	defer func() {
		s.syncMu.Lock()
		touched := slices.Collect(maps.Keys(s.touched))
		s.resyncing = false
		s.touched = nil
		s.syncMu.Unlock()
		if err == nil && len(touched) > 0 {
			err = s.applyIDs(ctx, touched)
		}
	}()

	s.mu.Lock()
	s.sched.epoch++
	epoch := s.sched.epoch
	s.mu.Unlock()
	removed := map[string][]string{}
	loaded := 0
	err = s.store.Each(ctx, func(w *postgres.PairWebsite) error {
		loaded++
		// The time of each row, not of the start: a load of a million rows takes seconds, and
		// a new pair is due at its first phase slot after it was read, not in the past.
		now := s.p.Clock.Now().UnixMilli()
		s.mu.Lock()
		gone := s.sched.upsert(w, now, epoch)
		s.mu.Unlock()
		for _, r := range gone {
			removed[r] = append(removed[r], w.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scheduler: resync: %w", err)
	}
	s.mu.Lock()
	swept, sweptSites := s.sched.sweep(epoch)
	s.mu.Unlock()
	for r, ids := range swept {
		removed[r] = append(removed[r], ids...)
	}
	s.afterChange(ctx, removed)
	s.log.InfoContext(ctx, "scheduler: resynced", "websites", loaded, "pairs", s.Pairs(),
		"removed_websites", sweptSites, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
