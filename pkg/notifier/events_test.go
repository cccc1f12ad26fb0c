package notifier_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/notifier"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

// countingHandler counts log records whose message starts with a prefix.
type countingHandler struct {
	slog.Handler
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) Enabled(context.Context, slog.Level) bool {
	return true
}

func (h *countingHandler) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for m, c := range h.counts {
		if strings.HasPrefix(m, prefix) {
			n += c
		}
	}
	return n
}

// While PostgreSQL cannot apply an event (here: the website's row is locked past the apply
// timeout), the event is held, unacknowledged, and retried; once PostgreSQL answers, it is
// applied once and acknowledged.
func TestEventHeldWhilePostgresFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Held", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	logs := &countingHandler{counts: map[string]int{}}
	h.run(h.notifier(func(p *notifier.Params) {
		p.ApplyTimeout = 100 * time.Millisecond
		p.Logger = slog.New(logs)
	}))

	lock, err := h.pool.Begin(h.ctx)
	require.NoError(t, err)
	_, err = lock.Exec(h.ctx, `SELECT 1 FROM websites WHERE id = $1 FOR UPDATE`, id)
	require.NoError(t, err)
	h.publish(down(id, "eu", h.at(0)))
	require.Eventually(t, func() bool { return logs.count("apply transition; holding the event") >= 2 },
		10*time.Second, 10*time.Millisecond, "the event is retried")
	p, err := h.rdb.XPending(h.ctx, h.keys.Events(), queue.Group).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, p.Count, "held, not acknowledged")
	require.Empty(t, h.sink.Messages())

	require.NoError(t, lock.Rollback(h.ctx))
	h.waitMessages(1)
	require.Eventually(t, func() bool {
		p, err := h.rdb.XPending(h.ctx, h.keys.Events(), queue.Group).Result()
		require.NoError(t, err)
		return p.Count == 0
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, h.count(`SELECT count(*) FROM outbox`))
}

// A notifier read an event and died before acknowledging it: another notifier claims it once
// it has been idle long enough, and the alert goes out once.
func TestEventsOfADeadNotifierAreClaimed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Claimed", regions: []string{"eu"}, emails: []string{"ops@example.com"}})
	dead, err := queue.NewEventConsumer(h.rdb, h.keys, queue.EventConsumerParams{Consumer: "dead", Block: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, dead.EnsureGroup(h.ctx))
	h.publish(down(id, "eu", h.at(0)))
	evs, err := dead.Read(h.ctx)
	require.NoError(t, err)
	require.Len(t, evs, 1)

	events, err := queue.NewEventConsumer(h.rdb, h.keys, queue.EventConsumerParams{
		Consumer: "live", Block: 50 * time.Millisecond, ClaimIdle: 200 * time.Millisecond})
	require.NoError(t, err)
	h.run(h.notifier(func(p *notifier.Params) { p.Events = events }))
	h.waitMessages(1)
	h.barrier()
	require.Len(t, h.sink.Messages(), 1)
}

// A transition applied twice in parallel (two notifiers got the same event, say after a claim
// raced a slow consumer) still opens one incident and writes one row per recipient.
func TestConcurrentApplyOpensOneIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.website(site{name: "Race", regions: []string{"eu", "us"}, emails: []string{"ops@example.com"}})
	n1, n2 := h.notifier(), h.notifier()
	var wg sync.WaitGroup
	for i, n := range []*notifier.Notifier{n1, n2, n1, n2} {
		region := []string{"eu", "us"}[i%2]
		wg.Go(func() {
			_, err := n.Apply(h.ctx, down(id, region, h.at(time.Duration(i)*time.Second)))
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, 1, h.count(`SELECT count(*) FROM incidents`))
	require.Equal(t, 1, h.count(`SELECT count(*) FROM outbox`))
	require.Equal(t, 2, h.count(`SELECT count(*) FROM region_downtimes`))
}
