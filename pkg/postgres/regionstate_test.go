package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// alertsWebsite inserts a website that follows the given regions (created if missing) and
// returns its id.
func alertsWebsite(t *testing.T, pool *pgxpool.Pool, name string, regions ...string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO websites (name, url, all_regions, alert_emails)
		VALUES ($1, 'https://'||$1||'.example', false, '{ops@example.com}') RETURNING id`, name).Scan(&id))
	for _, r := range regions {
		_, err := pool.Exec(ctx, `INSERT INTO regions (name) VALUES ($1) ON CONFLICT DO NOTHING`, r)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO website_regions (website_id, region_id)
			SELECT $1, id FROM regions WHERE name = $2`, id, r)
		require.NoError(t, err)
	}
	return id
}

func inTx(t *testing.T, pool *pgxpool.Pool, fn func(tx pgx.Tx)) {
	t.Helper()
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		fn(tx)
		return nil
	}))
}

func TestApplyRegionStateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	id := alertsWebsite(t, pool, "shop", "eu", "us")
	t0 := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	tr := func(to monitor.State, sec int) monitor.Transition {
		return monitor.Transition{WebsiteID: id, Region: "eu", To: to, At: t0.Add(time.Duration(sec) * time.Second)}
	}
	steps := []struct {
		name string
		t    monitor.Transition
		want bool
	}{
		{"first state is stored", tr(monitor.StateDown, 10), true},
		{"redelivery changes nothing", tr(monitor.StateDown, 10), false},
		{"same state re-emitted later changes nothing", tr(monitor.StateDown, 50), false},
		{"an older event changes nothing", tr(monitor.StateUp, 5), false},
		{"recovery", tr(monitor.StateUp, 60), true},
		{"recovery redelivered", tr(monitor.StateUp, 60), false},
	}
	for _, s := range steps {
		inTx(t, pool, func(tx pgx.Tx) {
			w, err := postgres.LockWebsiteForAlerts(ctx, tx, id)
			require.NoError(t, err)
			require.Equal(t, []string{"eu", "us"}, w.Regions)
			require.Equal(t, []string{"ops@example.com"}, w.AlertEmails)
			applied, err := postgres.ApplyRegionState(ctx, tx, s.t, t0)
			require.NoError(t, err)
			require.Equal(t, s.want, applied, s.name)
		})
	}
	inTx(t, pool, func(tx pgx.Tx) {
		states, err := postgres.RegionStates(ctx, tx, id)
		require.NoError(t, err)
		require.Len(t, states, 1)
		require.Equal(t, monitor.StateUp, states[0].State)
		require.True(t, t0.Add(60*time.Second).Equal(states[0].Since))

		_, err = postgres.LockWebsiteForAlerts(ctx, tx, "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, monitor.ErrNotFound)
	})
}
