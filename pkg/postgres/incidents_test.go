package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func TestIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	a := alertsWebsite(t, pool, "alpha", "eu", "us")
	b := alertsWebsite(t, pool, "beta", "eu")
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)

	var first monitor.Incident
	inTx(t, pool, func(tx pgx.Tx) {
		_, err := postgres.OpenIncidentOf(ctx, tx, a, t0)
		require.ErrorIs(t, err, monitor.ErrNotFound)
		require.NoError(t, postgres.OpenRegionDowntime(ctx, tx, monitor.Transition{
			WebsiteID: a, Region: "eu", To: monitor.StateDown, At: t0, Outcome: monitor.OutcomeDown}))
		first, err = postgres.InsertIncident(ctx, tx, monitor.Incident{WebsiteID: a, StartedAt: t0,
			Cause: monitor.Cause{Outcome: monitor.OutcomeDown, Message: "HTTP 500", StatusCode: 500}, Regions: []string{"eu"}})
		require.NoError(t, err)
		require.NoError(t, postgres.AttachRegionDowntimes(ctx, tx, a, first.ID))
		require.NoError(t, postgres.AddIncidentRegions(ctx, tx, first.ID, []string{"eu", "us"}))
		open, err := postgres.OpenIncidentOf(ctx, tx, a, t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{"eu", "us"}, open.Regions)
		require.Equal(t, "alpha", open.WebsiteName)
		require.EqualValues(t, 60, open.DurationSeconds)
	})
	// At most one open incident per website, whatever the caller does.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := postgres.InsertIncident(ctx, tx, monitor.Incident{WebsiteID: a, StartedAt: t0, Cause: monitor.Cause{Outcome: monitor.OutcomeDown}})
		return err
	})
	require.ErrorIs(t, err, monitor.ErrConflict)

	inTx(t, pool, func(tx pgx.Tx) {
		ended, err := postgres.CloseIncident(ctx, tx, first.ID, t0.Add(-time.Hour))
		require.NoError(t, err)
		require.True(t, t0.Equal(ended), "an incident never ends before it started")
		_, err = postgres.CloseIncident(ctx, tx, first.ID, t0)
		require.ErrorIs(t, err, monitor.ErrNotFound, "closing twice")
		for i := range 3 {
			_, err := postgres.InsertIncident(ctx, tx, monitor.Incident{WebsiteID: b, StartedAt: t0.Add(time.Duration(i) * time.Minute),
				Cause: monitor.Cause{Outcome: monitor.OutcomeTimeout}})
			require.NoError(t, err)
			if i < 2 {
				_, err = tx.Exec(ctx, `UPDATE incidents SET ended_at = started_at + interval '30 seconds' WHERE website_id = $1 AND ended_at IS NULL`, b)
				require.NoError(t, err)
			}
		}
	})

	store := postgres.NewIncidentStore(pool)
	tests := []struct {
		name   string
		filter postgres.IncidentFilter
		want   int
	}{
		{"all", postgres.IncidentFilter{}, 4},
		{"open", postgres.IncidentFilter{State: postgres.IncidentsOpen}, 1},
		{"resolved", postgres.IncidentFilter{State: postgres.IncidentsResolved}, 3},
		{"one website", postgres.IncidentFilter{WebsiteID: a}, 1},
		{"resolved of one website", postgres.IncidentFilter{WebsiteID: b, State: postgres.IncidentsResolved}, 2},
		{"unknown website", postgres.IncidentFilter{WebsiteID: "x"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := store.List(ctx, tt.filter, postgres.ListParams{Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, tt.want)
			require.Nil(t, next)
		})
	}
	_, _, err = store.List(ctx, postgres.IncidentFilter{State: "bogus"}, postgres.ListParams{Limit: 10})
	var fe *postgres.FieldError
	require.ErrorAs(t, err, &fe)

	// Pagination walks every incident once, newest first.
	var seen []monitor.Incident
	p := postgres.ListParams{Limit: 3}
	for {
		page, next, err := store.List(ctx, postgres.IncidentFilter{}, p)
		require.NoError(t, err)
		seen = append(seen, page...)
		if next == nil {
			break
		}
		p.After = next
	}
	require.Len(t, seen, 4)
	for i := 1; i < len(seen); i++ {
		require.False(t, seen[i].StartedAt.After(seen[i-1].StartedAt))
		require.NotEqual(t, seen[i].ID, seen[i-1].ID)
	}

	got, downtimes, err := store.Get(ctx, first.ID)
	require.NoError(t, err)
	require.False(t, got.Open())
	require.Len(t, downtimes, 1)
	require.Equal(t, "eu", downtimes[0].Region)
	_, _, err = store.Get(ctx, "nope")
	require.ErrorIs(t, err, monitor.ErrNotFound)
}
