package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// JobField is the one field of a check stream entry: the JSON of a monitor.Job.
const JobField = "job"

// DeadLetterMaxLen bounds a dead-letter stream (approximately, MAXLEN ~): it is there for an
// operator to read, not to grow without end when a bad job keeps arriving.
const DeadLetterMaxLen = 100_000

// Delivery is one check stream entry handed to this consumer.
type Delivery struct {
	ID  string
	Job monitor.Job
	// Values are the entry's original fields, copied as they are to the dead-letter stream.
	Values map[string]any
	// Deliveries is how many times Redis has delivered the entry, this delivery included.
	Deliveries int64
}

// ConsumerParams configures a Consumer.
type ConsumerParams struct {
	Keys   Keys
	Region string
	// Name is this consumer's name in the group; it must be unique per process (hostname-pid),
	// since Redis tracks pending entries per consumer name.
	Name string
	// Block is how long one XREADGROUP waits for new entries. Zero means one second; it is never
	// sent as 0, which Redis reads as "block forever".
	Block time.Duration
	// MaxDeliveries is how many times an entry may run before it is dead-lettered. Zero means 5.
	MaxDeliveries int64
	Logger        *slog.Logger
}

// Consumer is one member of a region's consumer group on the region's check stream: it joins
// the group, reads new entries, reclaims entries that a dead consumer left pending and moves
// entries that keep failing to the dead-letter stream.
//
// The client must be built with ContextTimeoutEnabled: true. Without it go-redis ignores the
// context's cancellation during a blocked XREADGROUP, and a graceful stop would wait for the
// whole Block duration (or, with Block 0, forever).
type Consumer struct {
	rdb    redis.UniversalClient
	p      ConsumerParams
	stream string
	dead   string
	log    *slog.Logger
}

// NewConsumer returns a consumer for p.Region; call EnsureGroup (or just Read, which creates
// the group when missing) before use.
func NewConsumer(rdb redis.UniversalClient, p ConsumerParams) *Consumer {
	if p.Block <= 0 {
		p.Block = time.Second
	}
	if p.MaxDeliveries <= 0 {
		p.MaxDeliveries = 5
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{
		rdb:    rdb,
		p:      p,
		stream: p.Keys.Checks(p.Region),
		dead:   p.Keys.DeadLetter(p.Region),
		log:    p.Logger.With("region", p.Region, "consumer", p.Name),
	}
}

// Name is the consumer's name in the group.
func (c *Consumer) Name() string { return c.p.Name }

// Stream is the check stream this consumer reads.
func (c *Consumer) Stream() string { return c.stream }

// EnsureGroup creates the region's consumer group, and the stream with it, if either is
// missing. The group starts at "0" so that jobs queued before the first worker joined are not
// skipped. Calling it again is harmless.
func (c *Consumer) EnsureGroup(ctx context.Context) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.stream, Group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("queue: create group on %s: %w", c.stream, err)
	}
	return nil
}

// IsNoGroup reports whether err says the stream or its group is gone, as after a Redis restart
// that lost its data.
func IsNoGroup(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOGROUP") }

// Read returns up to count new entries, waiting at most the Block duration; an empty slice
// means none arrived. When Redis lost the group it recreates it and reads again, so that a
// Redis restart heals itself; the caller backs off on any other error. Entries that are not a
// valid job are dead-lettered and not returned.
func (c *Consumer) Read(ctx context.Context, count int) ([]Delivery, error) {
	if count <= 0 {
		count = 1
	}
	for attempt := 0; ; attempt++ {
		streams, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group:    Group,
			Consumer: c.p.Name,
			Streams:  []string{c.stream, ">"},
			Count:    int64(count),
			Block:    c.p.Block,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return nil, nil
		case IsNoGroup(err) && attempt == 0:
			c.log.Warn("consumer group missing, recreating it")
			if err := c.EnsureGroup(ctx); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("queue: read %s: %w", c.stream, err)
		}
		var out []Delivery
		for _, s := range streams {
			out = c.decode(ctx, s.Messages, nil, out)
		}
		return out, nil
	}
}

// decode turns stream messages into deliveries, dead-lettering those that carry no valid job.
// counts, when not nil, gives each message's delivery count; new reads are deliveries number 1.
func (c *Consumer) decode(ctx context.Context, msgs []redis.XMessage, counts map[string]int64, out []Delivery) []Delivery {
	for _, m := range msgs {
		d := Delivery{ID: m.ID, Values: m.Values, Deliveries: 1}
		if n, ok := counts[m.ID]; ok {
			d.Deliveries = n
		}
		raw, _ := m.Values[JobField].(string)
		if err := json.Unmarshal([]byte(raw), &d.Job); err != nil || d.Job.WebsiteID == "" {
			reason := "malformed job: missing website_id"
			if err != nil {
				reason = "malformed job: " + err.Error()
			}
			if err := c.DeadLetter(ctx, d, reason); err != nil {
				// Left pending: the reclaimer will try again.
				c.log.Error("dead-letter malformed job", "id", m.ID, "err", err)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}

// Ack acknowledges entries that need no completion step (the normal path acks inside the
// completion script, see StateStore).
func (c *Consumer) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := c.rdb.XAck(ctx, c.stream, Group, ids...).Err(); err != nil {
		return fmt.Errorf("queue: ack %d entries on %s: %w", len(ids), c.stream, err)
	}
	return nil
}

// DeadLetter copies the entry to the region's dead-letter stream with its original fields plus
// the reason, the original id, the delivery count and this consumer's name, then acknowledges
// it, in one MULTI so that a job is never both dead and pending.
func (c *Consumer) DeadLetter(ctx context.Context, d Delivery, reason string) error {
	values := make(map[string]any, len(d.Values)+4)
	for k, v := range d.Values {
		values[k] = v
	}
	values["reason"] = reason
	values["original_id"] = d.ID
	values["deliveries"] = strconv.FormatInt(d.Deliveries, 10)
	values["consumer"] = c.p.Name
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: c.dead, MaxLen: DeadLetterMaxLen, Approx: true, Values: values})
		p.XAck(ctx, c.stream, Group, d.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: dead-letter %s: %w", d.ID, err)
	}
	c.log.Warn("job dead-lettered", "id", d.ID, "website_id", d.Job.WebsiteID,
		"deliveries", d.Deliveries, "reason", reason)
	return nil
}

// ReclaimResult is what one Reclaim pass did.
type ReclaimResult struct {
	// Deliveries are the reclaimed entries to run again.
	Deliveries []Delivery
	// DeadLettered counts entries that had run MaxDeliveries times and went to the dead-letter
	// stream instead.
	DeadLettered int
	// Deleted counts pending entries whose data the stream had already trimmed: there is
	// nothing left to run, so they are acked and leave the pending list.
	Deleted int
}

// reclaimPages and reclaimPageSize bound how many pending entries one Reclaim pass looks
// through. Entries whose long timeout has not yet run out are listed but not taken: pages go
// on past them, so that they cannot hide an entry behind them whose short timeout has, but not
// without end on a pending list full of them.
const (
	reclaimPages    = 8
	reclaimPageSize = 64
)

// Reclaim takes over up to count entries that a consumer has left pending for longer than
// their own job's timeout plus grace: a live consumer would have finished (or given up on)
// the check by then, so its consumer died or hung. A 10-second check of a crashed worker is
// therefore run again after 10 s + grace, not after the longest timeout any job may have.
//
// One pass lists candidates with XPENDING (IDLE at least grace plus the smallest possible
// timeout, a bounded number of bounded pages), reads their jobs with pipelined XRANGEs
// to learn each one's timeout, and XCLAIMs only the entries idle for longer than theirs plus
// grace, with that as XCLAIM's min-idle. The check is thus made again, atomically, by Redis: an
// entry that its consumer acked, or that another consumer claimed, between the listing and
// the claim is left alone.
//
// An entry that has already been delivered MaxDeliveries times is not run again but
// dead-lettered, so that a job that crashes its worker cannot take the region's workers down
// one after the other. Entries whose data the stream has trimmed are acked and counted in
// Deleted. On an error, the result still holds the entries claimed before it: they are this
// consumer's now, and the caller should run them.
func (c *Consumer) Reclaim(ctx context.Context, grace time.Duration, count int) (ReclaimResult, error) {
	var res ReclaimResult
	if count <= 0 {
		count = 1
	}
	page := max(count, reclaimPageSize)
	start := "-"
	for range reclaimPages {
		pending, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: c.stream, Group: Group, Idle: grace + time.Millisecond, // 1 ms: the smallest timeout_ms
			Start: start, End: "+", Count: int64(page),
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if IsNoGroup(err) {
				return res, c.EnsureGroup(ctx)
			}
			return res, fmt.Errorf("queue: pending entries of %s: %w", c.stream, err)
		}
		if len(pending) == 0 {
			break
		}
		if err := c.reclaimPage(ctx, grace, pending, count, &res); err != nil {
			return res, err
		}
		if len(pending) < page || len(res.Deliveries)+res.DeadLettered >= count {
			break
		}
		start = "(" + pending[len(pending)-1].ID
	}
	if res.Deleted > 0 {
		c.log.Warn("pending entries already trimmed from the stream", "count", res.Deleted)
	}
	return res, nil
}

// reclaimPage does one page of Reclaim: it reads the candidates' jobs, claims those past their
// own deadline (no more than count in res overall) and sorts them into runs and dead letters.
func (c *Consumer) reclaimPage(ctx context.Context, grace time.Duration, pending []redis.XPendingExt, count int, res *ReclaimResult) error {
	pipe := c.rdb.Pipeline()
	reads := make([]*redis.XMessageSliceCmd, len(pending))
	for i, p := range pending {
		reads[i] = pipe.XRange(ctx, c.stream, p.ID, p.ID)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("queue: read pending jobs of %s: %w", c.stream, err)
	}

	// Entries to claim, grouped by their min-idle (one XCLAIM per distinct job timeout).
	var gone []string
	byIdle := map[time.Duration][]string{}
	var order []time.Duration
	counts := make(map[string]int64, len(pending))
	room := count - len(res.Deliveries) - res.DeadLettered
	for i, p := range pending {
		msgs := reads[i].Val()
		if len(msgs) == 0 {
			gone = append(gone, p.ID)
			continue
		}
		if room == 0 {
			continue
		}
		var job monitor.Job
		timeout := monitor.MaxTimeoutMS * time.Millisecond // a malformed job: the longest wait
		if raw, ok := msgs[0].Values[JobField].(string); ok && json.Unmarshal([]byte(raw), &job) == nil {
			timeout = job.Timeout()
		}
		minIdle := timeout + grace
		if p.Idle < minIdle {
			continue
		}
		if _, ok := byIdle[minIdle]; !ok {
			order = append(order, minIdle)
		}
		byIdle[minIdle] = append(byIdle[minIdle], p.ID)
		// XCLAIM counts this delivery too, as XREADGROUP does.
		counts[p.ID] = p.RetryCount + 1
		room--
	}
	if len(gone) == 0 && len(order) == 0 {
		return nil
	}

	pipe = c.rdb.Pipeline()
	var ack *redis.IntCmd
	if len(gone) > 0 {
		ack = pipe.XAck(ctx, c.stream, Group, gone...)
	}
	claims := make([]*redis.XMessageSliceCmd, len(order))
	for i, minIdle := range order {
		claims[i] = pipe.XClaim(ctx, &redis.XClaimArgs{
			Stream: c.stream, Group: Group, Consumer: c.p.Name, MinIdle: minIdle, Messages: byIdle[minIdle],
		})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("queue: claim pending jobs of %s: %w", c.stream, err)
	}
	if ack != nil {
		res.Deleted += int(ack.Val())
	}

	var run []redis.XMessage
	for _, cmd := range claims {
		for _, m := range cmd.Val() {
			if counts[m.ID] > c.p.MaxDeliveries {
				d := c.decode(ctx, []redis.XMessage{m}, counts, nil)
				if len(d) == 0 { // malformed: decode has dead-lettered it already
					res.DeadLettered++
					continue
				}
				reason := fmt.Sprintf("not completed after %d deliveries", c.p.MaxDeliveries)
				if err := c.DeadLetter(ctx, d[0], reason); err != nil {
					return err
				}
				res.DeadLettered++
				continue
			}
			run = append(run, m)
		}
	}
	before := len(res.Deliveries)
	res.Deliveries = c.decode(ctx, run, counts, res.Deliveries)
	res.DeadLettered += len(run) - (len(res.Deliveries) - before) // malformed ones
	return nil
}
