package scheduler

import (
	"context"
	"time"
)

// sweepTimeout bounds the start-up sweep: a SCAN of the key space and a few deletions.
const sweepTimeout = 2 * time.Minute

// sweepOrphans removes the Redis keys of regions that PostgreSQL no longer has, once, at
// start-up. The API removes a region's keys when it deletes the region, but that can fail (Redis
// down at that moment), a dispatch already in flight can recreate the stream just after, and a
// region may have been deleted by hand in SQL; the jobs such a stream keeps carry the websites'
// custom headers, credentials included. Redis is read before PostgreSQL, so that a region created
// meanwhile is in the list it is compared with and its new stream is kept.
func (s *Scheduler) sweepOrphans(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	rk := s.p.RegionKeys
	inRedis, err := rk.Regions(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "scheduler: sweep of deleted regions' keys skipped", "err", err)
		return
	}
	if len(inRedis) == 0 {
		return
	}
	names, err := s.regions.Names(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "scheduler: sweep of deleted regions' keys skipped", "err", err)
		return
	}
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	for _, region := range inRedis {
		if known[region] {
			continue
		}
		n, err := rk.Drop(ctx, region)
		if err != nil {
			s.log.ErrorContext(ctx, "scheduler: remove the keys of a deleted region", "region", region, "err", err)
			continue
		}
		s.log.WarnContext(ctx, "scheduler: removed the Redis keys of a region that no longer exists",
			"region", region, "keys", n)
	}
}
