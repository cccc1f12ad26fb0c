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

func TestDowntimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	id := alertsWebsite(t, pool, "api", "eu", "us")
	other := alertsWebsite(t, pool, "blog", "eu")
	t0 := time.Now().UTC().Truncate(time.Second).Add(-48 * time.Hour)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	down := func(site, region string, min int) monitor.Transition {
		return monitor.Transition{WebsiteID: site, Region: region, To: monitor.StateDown, At: at(min),
			Outcome: monitor.OutcomeTimeout, Reason: "timeout", Message: "no answer in 10s", ResponseMS: 10000}
	}
	inTx(t, pool, func(tx pgx.Tx) {
		require.NoError(t, postgres.OpenRegionDowntime(ctx, tx, down(id, "eu", 0)))
		require.NoError(t, postgres.OpenRegionDowntime(ctx, tx, down(id, "eu", 1)), "a second open is a no-op")
		require.NoError(t, postgres.CloseRegionDowntime(ctx, tx, id, "eu", at(5)))
		require.NoError(t, postgres.OpenRegionDowntime(ctx, tx, down(id, "us", 60)))
		require.NoError(t, postgres.CloseRegionDowntime(ctx, tx, id, "us", at(61).Add(30*time.Second)))
		require.NoError(t, postgres.OpenRegionDowntime(ctx, tx, down(id, "eu", 24*60)))
		require.NoError(t, postgres.OpenRegionDowntime(ctx, tx, down(other, "eu", 30)))
		open, err := postgres.OpenRegionDowntimes(ctx, tx, id, at(24*60+2))
		require.NoError(t, err)
		require.Len(t, open, 1)
		require.EqualValues(t, 120, open[0].DurationSeconds)
	})

	store := postgres.NewDowntimeStore(pool)
	all, err := store.List(ctx, postgres.DowntimeFilter{WebsiteID: id, From: t0.Add(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, "eu", all[0].Region)
	require.True(t, at(0).Equal(all[0].StartedAt))
	require.True(t, at(5).Equal(*all[0].EndedAt))
	require.EqualValues(t, 300, all[0].DurationSeconds)
	require.EqualValues(t, 90, all[1].DurationSeconds)
	require.Equal(t, monitor.OutcomeTimeout, all[1].Cause.Outcome)
	require.Equal(t, "no answer in 10s", all[1].Cause.Message)
	require.Nil(t, all[2].EndedAt, "still open")
	require.Greater(t, all[2].DurationSeconds, int64(23*3600))

	us, err := store.List(ctx, postgres.DowntimeFilter{WebsiteID: id, Region: "us", From: t0})
	require.NoError(t, err)
	require.Len(t, us, 1)

	// A range that starts after the first period ended still includes periods that overlap it.
	recent, err := store.List(ctx, postgres.DowntimeFilter{WebsiteID: id, From: at(61)})
	require.NoError(t, err)
	require.Len(t, recent, 2)

	last, err := store.Latest(ctx, postgres.DowntimeFilter{WebsiteID: id, From: t0})
	require.NoError(t, err)
	require.True(t, at(24*60).Equal(last.StartedAt))
	lastUS, err := store.Latest(ctx, postgres.DowntimeFilter{WebsiteID: id, Region: "us", From: t0})
	require.NoError(t, err)
	require.Equal(t, "us", lastUS.Region)
	_, err = store.Latest(ctx, postgres.DowntimeFilter{WebsiteID: id, Region: "ap", From: t0})
	require.ErrorIs(t, err, monitor.ErrNotFound)
	_, err = store.Latest(ctx, postgres.DowntimeFilter{WebsiteID: "nope", From: t0})
	require.ErrorIs(t, err, monitor.ErrNotFound)

	lasts, err := store.LastDowntimes(ctx, []string{id, other, "nope"})
	require.NoError(t, err)
	require.Len(t, lasts, 2)
	require.True(t, at(30).Equal(lasts[other].StartedAt))
}
