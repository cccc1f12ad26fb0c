package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// EventField is the one field of an events stream entry: the JSON of a monitor.Transition.
const EventField = "event"

// TransitionEvent is one entry of the events stream as the notifier reads it. Err is set, and
// Transition is zero, when the entry cannot be decoded: the consumer acknowledges such an entry
// after logging it, because no retry will ever make it readable.
type TransitionEvent struct {
	ID         string
	Transition monitor.Transition
	Err        error
}

// EventConsumerParams configures an EventConsumer.
type EventConsumerParams struct {
	// Consumer names this process in the consumer group; it must be unique among the running
	// notifiers (hostname-pid is a good choice).
	Consumer string
	// Block is how long one read waits for new events. It must be positive: go-redis turns a
	// zero Block into BLOCK 0, which waits forever and ignores shutdown. Default 2 s.
	Block time.Duration
	// ClaimIdle is how long an event may stay delivered but unacknowledged before another
	// notifier takes it over with XAUTOCLAIM, because its consumer is presumed dead. Default 30 s.
	ClaimIdle time.Duration
	// Count is the most events one read returns. Default 32.
	Count int64
}

// EventConsumer reads the transition events stream (Keys.Events) in the consumer group Group.
// Each event stays pending until Ack, so an event whose processing did not commit is delivered
// again: to this consumer if it retries, or through XAUTOCLAIM to another notifier once it has
// been idle for ClaimIdle. Consumers must therefore be idempotent, and the notifier is.
type EventConsumer struct {
	rdb  redis.UniversalClient
	keys Keys
	p    EventConsumerParams
}

// NewEventConsumer returns a consumer of the events stream. The client should be created with
// ContextTimeoutEnabled, so that cancelling ctx ends a blocked read.
func NewEventConsumer(rdb redis.UniversalClient, keys Keys, p EventConsumerParams) (*EventConsumer, error) {
	if p.Consumer == "" {
		return nil, errors.New("queue: events consumer: empty consumer name")
	}
	if p.Block <= 0 {
		p.Block = 2 * time.Second
	}
	if p.ClaimIdle <= 0 {
		p.ClaimIdle = 30 * time.Second
	}
	if p.Count <= 0 {
		p.Count = 32
	}
	return &EventConsumer{rdb: rdb, keys: keys, p: p}, nil
}

// EnsureGroup creates the stream and its consumer group if they are missing. The group starts
// at the beginning of the stream, so events that workers emitted before any notifier ran are
// not skipped.
func (c *EventConsumer) EnsureGroup(ctx context.Context) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.keys.Events(), Group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("queue: create events group: %w", err)
	}
	return nil
}

// Read returns the next events for this consumer: first those that a dead consumer left
// pending for longer than ClaimIdle, then new ones, waiting up to Block for them. It returns
// an empty slice and no error when nothing arrived. If Redis lost the stream or the group (a
// restart without persistence), Read recreates them and carries on.
func (c *EventConsumer) Read(ctx context.Context) ([]TransitionEvent, error) {
	claimed, err := c.claim(ctx)
	if err != nil {
		return nil, err
	}
	if len(claimed) > 0 {
		return claimed, nil
	}
	streams, err := c.readGroup(ctx)
	if redis.HasErrorPrefix(err, "NOGROUP") {
		if err := c.EnsureGroup(ctx); err != nil {
			return nil, err
		}
		streams, err = c.readGroup(ctx)
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: read events: %w", err)
	}
	var out []TransitionEvent
	for _, s := range streams {
		for _, m := range s.Messages {
			out = append(out, decodeTransitionEvent(m))
		}
	}
	return out, nil
}

func (c *EventConsumer) readGroup(ctx context.Context) ([]redis.XStream, error) {
	return c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    Group,
		Consumer: c.p.Consumer,
		Streams:  []string{c.keys.Events(), ">"},
		Count:    c.p.Count,
		Block:    c.p.Block,
	}).Result()
}

// claim takes over events that have been pending, unacknowledged, for at least ClaimIdle.
func (c *EventConsumer) claim(ctx context.Context) ([]TransitionEvent, error) {
	msgs, _, _, err := c.rdb.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
		Stream:   c.keys.Events(),
		Group:    Group,
		Consumer: c.p.Consumer,
		MinIdle:  c.p.ClaimIdle,
		Start:    "0-0",
		Count:    c.p.Count,
	}).Result()
	if redis.HasErrorPrefix(err, "NOGROUP") {
		// The stream or group is gone (Redis lost its data): nothing to claim. Read recreates it.
		return nil, nil
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: claim events: %w", err)
	}
	out := make([]TransitionEvent, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, decodeTransitionEvent(m))
	}
	return out, nil
}

// Ack acknowledges processed events, so that they are never delivered again.
func (c *EventConsumer) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := c.rdb.XAck(ctx, c.keys.Events(), Group, ids...).Err(); err != nil {
		return fmt.Errorf("queue: ack events: %w", err)
	}
	return nil
}

// AddTransitionEvent appends a transition to the events stream in the format EventConsumer
// reads, bounded like the worker's completions bound it (DefaultEventsMaxLen). Workers emit
// their transitions atomically with the job's completion (StateStore); tests and tools use this
// to feed the notifier.
func AddTransitionEvent(ctx context.Context, rdb redis.UniversalClient, keys Keys, t monitor.Transition) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("queue: encode transition: %w", err)
	}
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: keys.Events(),
		MaxLen: DefaultEventsMaxLen,
		Approx: true,
		Values: map[string]any{EventField: string(b)},
	}).Result()
	if err != nil {
		return "", fmt.Errorf("queue: add transition event: %w", err)
	}
	return id, nil
}

func decodeTransitionEvent(m redis.XMessage) TransitionEvent {
	ev := TransitionEvent{ID: m.ID}
	raw, ok := m.Values[EventField].(string)
	if !ok {
		ev.Err = fmt.Errorf("queue: event %s has no %q field", m.ID, EventField)
		return ev
	}
	if err := json.Unmarshal([]byte(raw), &ev.Transition); err != nil {
		ev.Err = fmt.Errorf("queue: decode event %s: %w", m.ID, err)
		ev.Transition = monitor.Transition{} // Unmarshal may have filled fields before failing
		return ev
	}
	if ev.Transition.WebsiteID == "" || ev.Transition.Region == "" || ev.Transition.At.IsZero() {
		ev.Err = fmt.Errorf("queue: event %s lacks website_id, region or at", m.ID)
		ev.Transition = monitor.Transition{}
	}
	return ev
}
