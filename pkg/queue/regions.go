package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of the SCANs that look for a region's keys: large, because they
// run rarely (a region deleted, a scheduler started) and each round trip is the cost.
const scanCount = 10000

// RegionKeys removes what Redis holds for a region that no longer exists. A deleted region's
// check stream keeps its queued jobs, and those carry the website's custom headers, credentials
// included: they must not outlive the region. Nothing reads or writes these keys once the region
// is gone, so removing them loses nothing; a worker still running for the region recreates an
// empty stream and group on its next read (NOGROUP), which the next sweep removes again.
type RegionKeys struct {
	rdb  redis.UniversalClient
	keys Keys
}

// NewRegionKeys returns a RegionKeys for the keys under keys.Prefix.
func NewRegionKeys(rdb redis.UniversalClient, keys Keys) *RegionKeys {
	return &RegionKeys{rdb: rdb, keys: keys.orDefault()}
}

// Drop removes every key of region: its check stream and dead-letter stream (with their
// consumer groups), its pending and last-dispatched markers, its retry schedule and the state
// hashes of its pairs. It returns how many keys it removed.
func (r *RegionKeys) Drop(ctx context.Context, region string) (int, error) {
	k := r.keys
	fixed := []string{k.Checks(region), k.DeadLetter(region), k.Pending(region), k.LastDue(region), k.Retry(region)}
	n, err := r.unlink(ctx, fixed)
	if err != nil {
		return n, fmt.Errorf("queue: drop region %s: %w", region, err)
	}
	// The state hashes expire on their own, but only after the state TTL; a region's pairs can
	// be many, so they are removed a SCAN page at a time.
	iter := r.rdb.Scan(ctx, 0, globEscape(k.State(region, ""))+"*", scanCount).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == scanCount {
			m, err := r.unlink(ctx, batch)
			n += m
			if err != nil {
				return n, fmt.Errorf("queue: drop region %s: %w", region, err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return n, fmt.Errorf("queue: drop region %s: scan state: %w", region, err)
	}
	m, err := r.unlink(ctx, batch)
	n += m
	if err != nil {
		return n, fmt.Errorf("queue: drop region %s: %w", region, err)
	}
	return n, nil
}

// unlink removes keys one command each (in one pipeline), so that keys of different hash slots
// never meet in one command, and returns how many existed.
func (r *RegionKeys) unlink(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range keys {
			p.Unlink(ctx, key)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cmds {
		n += int(c.(*redis.IntCmd).Val())
	}
	return n, nil
}

// Regions returns the names of the regions that hold something in Redis: queued or
// dead-lettered jobs, or a marker. A region whose only key is an empty check stream is left
// out: that is a worker waiting for its region to be created (a worker creates its stream and
// group when it starts), and it holds nothing to protect. Regions scans the whole key space
// under the prefix, so it is meant for start-up, not for a loop.
func (r *RegionKeys) Regions(ctx context.Context) ([]string, error) {
	all, err := r.regionsWithKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, region := range all {
		holds, err := r.holds(ctx, region)
		if err != nil {
			return nil, err
		}
		if holds {
			out = append(out, region)
		}
	}
	return out, nil
}

// holds reports whether region has a queued job, a dead letter or a marker. Each key is asked
// about in a command of its own, as in unlink.
func (r *RegionKeys) holds(ctx context.Context, region string) (bool, error) {
	k := r.keys
	cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XLen(ctx, k.Checks(region))
		for _, key := range []string{k.DeadLetter(region), k.Pending(region), k.LastDue(region), k.Retry(region)} {
			p.Exists(ctx, key)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("queue: inspect region %s: %w", region, err)
	}
	for _, c := range cmds {
		if c.(*redis.IntCmd).Val() > 0 {
			return true, nil
		}
	}
	return false, nil
}

// regionsWithKeys returns the names of the regions that have any key of their own in Redis.
func (r *RegionKeys) regionsWithKeys(ctx context.Context) ([]string, error) {
	k := r.keys
	kinds := []string{k.Checks(""), k.DeadLetter(""), k.Pending(""), k.LastDue(""), k.Retry("")}
	seen := map[string]bool{}
	var out []string
	iter := r.rdb.Scan(ctx, 0, globEscape(k.Prefix)+":*", scanCount).Iterator()
	for iter.Next(ctx) {
		for _, kind := range kinds {
			region, ok := strings.CutPrefix(iter.Val(), kind)
			if ok && region != "" && !strings.Contains(region, ":") && !seen[region] {
				seen[region] = true
				out = append(out, region)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("queue: scan region keys: %w", err)
	}
	return out, nil
}

// globEscape escapes the characters that SCAN's MATCH pattern treats specially, so that a
// prefix such as "vigil[1]" matches only itself.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
