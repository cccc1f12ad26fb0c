package postgres_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// outboxIncident opens an incident and enqueues one email per recipient for it, at now.
func outboxIncident(t *testing.T, pool *pgxpool.Pool, now time.Time, recipients ...string) string {
	t.Helper()
	ctx := context.Background()
	site := alertsWebsite(t, pool, "site", "eu")
	var incID string
	inTx(t, pool, func(tx pgx.Tx) {
		inc, err := postgres.InsertIncident(ctx, tx, monitor.Incident{WebsiteID: site, StartedAt: now, Cause: monitor.Cause{Outcome: monitor.OutcomeDown}})
		require.NoError(t, err)
		incID = inc.ID
		var ns []monitor.Notification
		for _, r := range recipients {
			ns = append(ns, monitor.Notification{IncidentID: inc.ID, Kind: monitor.KindDown, Channel: monitor.ChannelEmail,
				Recipient: r, Payload: json.RawMessage(`{"kind":"down"}`)})
		}
		n, err := postgres.EnqueueNotifications(ctx, tx, ns, now)
		require.NoError(t, err)
		require.EqualValues(t, len(recipients), n)
		// The same rows again: the unique key skips them.
		n, err = postgres.EnqueueNotifications(ctx, tx, ns, now)
		require.NoError(t, err)
		require.Zero(t, n)
	})
	return incID
}

func TestOutboxLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	incID := outboxIncident(t, pool, now, "a@example.com", "b@example.com")
	store := postgres.NewOutboxStore(pool)

	claimed, err := store.Claim(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	// Rows created together come back in id order, which is random: name them by recipient.
	slices.SortFunc(claimed, func(a, b monitor.Notification) int { return strings.Compare(a.Recipient, b.Recipient) })
	for _, n := range claimed {
		require.Equal(t, monitor.NotificationSending, n.State)
		require.Equal(t, 1, n.Attempts)
		require.Equal(t, incID, n.IncidentID)
		require.JSONEq(t, `{"kind":"down"}`, string(n.Payload))
	}
	again, err := store.Claim(ctx, now.Add(30*time.Second), time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, again, "leased rows are not claimed twice")

	// One is delivered, one fails and is retried later.
	require.NoError(t, store.Record(ctx, claimed[0], postgres.DeliveryOutcome{At: now.Add(time.Second)}))
	require.NoError(t, store.Record(ctx, claimed[1], postgres.DeliveryOutcome{At: now.Add(time.Second), Err: "451 try again", NextAttemptAt: now.Add(10 * time.Second)}))
	require.ErrorIs(t, store.Record(ctx, claimed[0], postgres.DeliveryOutcome{At: now}), monitor.ErrConflict, "a stale owner cannot change the row")

	none, err := store.Claim(ctx, now.Add(5*time.Second), time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, none, "not due yet")
	retry, err := store.Claim(ctx, now.Add(10*time.Second), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, retry, 1)
	require.Equal(t, claimed[1].ID, retry[0].ID)
	require.Equal(t, 2, retry[0].Attempts)
	require.Equal(t, "451 try again", retry[0].LastError)

	// The sender dies mid-send: when the lease runs out the row is due again, and the lost
	// attempt is on record.
	taken, err := store.Claim(ctx, now.Add(10*time.Second+time.Minute), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, taken, 1)
	require.Equal(t, 3, taken[0].Attempts)
	require.NoError(t, store.Record(ctx, taken[0], postgres.DeliveryOutcome{At: now.Add(2 * time.Minute), Err: "refused", GiveUp: true}))
	require.ErrorIs(t, store.Record(ctx, retry[0], postgres.DeliveryOutcome{At: now.Add(3 * time.Minute)}), monitor.ErrConflict, "the dead sender's late record loses")

	attempts, err := store.Attempts(ctx, taken[0].ID)
	require.NoError(t, err)
	require.Len(t, attempts, 4)
	require.Equal(t, "451 try again", attempts[0].Error)
	require.Equal(t, postgres.LeaseLostError, attempts[1].Error)
	require.Equal(t, "refused", attempts[2].Error)
	require.Empty(t, attempts[3].Error, "the stale record is still recorded as an attempt")

	givenUp, next, err := store.List(ctx, postgres.NotificationFilter{State: monitor.NotificationGivenUp}, postgres.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Nil(t, next)
	require.Len(t, givenUp, 1)
	require.Equal(t, "b@example.com", givenUp[0].Recipient)
	require.Equal(t, "refused", givenUp[0].LastError)
	require.NotEmpty(t, givenUp[0].WebsiteID)

	sent, _, err := store.List(ctx, postgres.NotificationFilter{State: monitor.NotificationSent}, postgres.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, sent, 1)
	require.NotNil(t, sent[0].SentAt)
	_, _, err = store.List(ctx, postgres.NotificationFilter{State: "lost"}, postgres.ListParams{})
	var fe *postgres.FieldError
	require.ErrorAs(t, err, &fe)
}

func TestOutboxConcurrentClaimsTakeEachRowOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	var recipients []string
	for i := range 40 {
		recipients = append(recipients, string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com")
	}
	outboxIncident(t, pool, now, recipients...)
	store := postgres.NewOutboxStore(pool)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				got, err := store.Claim(ctx, now, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					seen[n.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, 40)
	for id, n := range seen {
		require.Equal(t, 1, n, id)
	}
}
