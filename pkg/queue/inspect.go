package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Inspector reads the backlog of Vigil's streams for monitoring: lengths, pending counts and
// lag. It only reads, so a scrape never changes what the workers and notifiers see.
type Inspector struct {
	rdb  redis.UniversalClient
	keys Keys
}

// NewInspector returns an Inspector of the streams under keys.
func NewInspector(rdb redis.UniversalClient, keys Keys) *Inspector {
	return &Inspector{rdb: rdb, keys: keys.orDefault()}
}

// Backlog is what one stream holds for its consumer group.
type Backlog struct {
	// Length is the stream's length (XLEN).
	Length int64
	// Pending counts entries delivered to a consumer of the group and not acknowledged.
	Pending int64
	// Lag counts entries not yet delivered to any consumer of the group; -1 when Redis cannot
	// tell (after entries past the group's position were trimmed).
	Lag int64
}

// Checks returns the backlog of region's check stream.
func (i *Inspector) Checks(ctx context.Context, region string) (Backlog, error) {
	return i.backlog(ctx, i.keys.Checks(region))
}

// Events returns the backlog of the transition event stream.
func (i *Inspector) Events(ctx context.Context) (Backlog, error) {
	return i.backlog(ctx, i.keys.Events())
}

// DeadLetters returns the length of region's dead-letter stream.
func (i *Inspector) DeadLetters(ctx context.Context, region string) (int64, error) {
	n, err := i.rdb.XLen(ctx, i.keys.DeadLetter(region)).Result()
	if err != nil {
		return 0, fmt.Errorf("dead letters: %w", err)
	}
	return n, nil
}

// backlog reads one stream's length and its group's pending count and lag in one round trip.
// A stream or group that does not exist yet has no backlog.
func (i *Inspector) backlog(ctx context.Context, stream string) (Backlog, error) {
	var b Backlog
	pipe := i.rdb.Pipeline()
	xlen := pipe.XLen(ctx, stream)
	groups := pipe.XInfoGroups(ctx, stream)
	_, _ = pipe.Exec(ctx) // each command's error is read below
	n, err := xlen.Result()
	if err != nil {
		return b, fmt.Errorf("xlen %s: %w", stream, err)
	}
	b.Length = n
	gs, err := groups.Result()
	switch {
	case redis.HasErrorPrefix(err, "no such key"):
		return b, nil
	case err != nil:
		return b, fmt.Errorf("xinfo groups %s: %w", stream, err)
	}
	for _, g := range gs {
		if g.Name == Group {
			b.Pending, b.Lag = g.Pending, g.Lag
			return b, nil
		}
	}
	// No group yet: nobody has read the stream, so all of it is lag.
	b.Lag = n
	return b, nil
}
