package status

import (
	"context"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Defaults of the monitoring answers' cache.
const (
	// DefaultCacheTTL is how long a series or uptime answer is served again. Results arrive
	// about once a minute per pair, and a chart or an uptime figure that is 15 s old shows
	// nothing different, while 32 dashboards asking the same thing cost InfluxDB one query.
	DefaultCacheTTL = 15 * time.Second
	// DefaultCacheEntries bounds the answers kept. A 30-day series is about 500 points per
	// region (some tens of kB), so the cache stays within tens of MB.
	DefaultCacheEntries = 2048
	// cacheQueryTimeout bounds a query that callers share: it runs on past the caller that
	// started it (the others still wait for it), but not for ever.
	cacheQueryTimeout = time.Minute
)

// resultCache keeps the answers of costly time-series queries for a short TTL and coalesces
// concurrent misses of the same key into one query (singleflight), so that a burst of
// identical requests costs one Flux query and a query never runs twice at once. Errors are
// not kept. It is bounded by entries (least recently used out first); an entry past its TTL
// is a miss.
type resultCache struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex // guards entries' reads that may remove an expired entry
	entries *lru.Cache[string, cacheEntry]
}

type cacheEntry struct {
	val     any
	expires time.Time
}

// newResultCache returns a cache, or nil (no caching, every call runs its query) when ttl is
// not positive.
func newResultCache(ttl time.Duration, size int, now func() time.Time) *resultCache {
	if ttl <= 0 {
		return nil
	}
	if size <= 0 {
		size = DefaultCacheEntries
	}
	if now == nil {
		now = time.Now
	}
	entries, err := lru.New[string, cacheEntry](size)
	if err != nil { // only for a size <= 0, excluded above
		panic(err)
	}
	return &resultCache{ttl: ttl, now: now, entries: entries}
}

func (c *resultCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries.Get(key)
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.expires) {
		c.entries.Remove(key)
		return nil, false
	}
	return e.val, true
}

func (c *resultCache) put(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.Add(key, cacheEntry{val: v, expires: c.now().Add(c.ttl)})
}

// cached returns the answer kept under key, or runs fn once for all concurrent callers of the
// same key and keeps its answer. fn gets a context that outlives the caller that started it
// (bounded by cacheQueryTimeout), so that one client going away does not fail the others
// waiting on the same query; each caller still stops waiting when its own ctx ends. With a
// nil cache, fn just runs.
func cached[T any](ctx context.Context, c *resultCache, key string, fn func(context.Context) (T, error)) (T, error) {
	if c == nil {
		return fn(ctx)
	}
	if v, ok := c.get(key); ok {
		return v.(T), nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		// Another call may have filled the key between our miss and this flight.
		if v, ok := c.get(key); ok {
			return v, nil
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheQueryTimeout)
		defer cancel()
		v, err := fn(qctx)
		if err != nil {
			return nil, err
		}
		c.put(key, v)
		return v, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero T
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("status: waiting for %s: %w", key, ctx.Err())
	}
}
