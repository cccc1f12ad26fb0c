package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func TestRegionStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	regions := postgres.NewRegionStore(pool)

	eu, err := regions.Create(ctx, "europe")
	require.NoError(t, err)
	require.Equal(t, "europe", eu.Name)
	require.NotEmpty(t, eu.ID)

	_, err = regions.Create(ctx, "europe")
	require.ErrorIs(t, err, monitor.ErrConflict)

	got, err := regions.Get(ctx, eu.ID)
	require.NoError(t, err)
	require.Equal(t, eu.ID, got.ID)

	_, err = regions.Get(ctx, "not-a-uuid")
	require.ErrorIs(t, err, monitor.ErrNotFound)
	_, err = regions.Get(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, monitor.ErrNotFound)

	us, err := regions.Create(ctx, "us-east")
	require.NoError(t, err)
	_, err = regions.Rename(ctx, us.ID, "europe")
	require.ErrorIs(t, err, monitor.ErrConflict)
	renamed, err := regions.Rename(ctx, us.ID, "us-west")
	require.NoError(t, err)
	require.Equal(t, "us-west", renamed.Name)
	require.False(t, renamed.UpdatedAt.Before(us.UpdatedAt))

	list, next, err := regions.List(ctx, postgres.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "europe", list[0].Name)
	require.NotNil(t, next)
	list, next, err = regions.List(ctx, postgres.ListParams{Limit: 1, After: next})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "us-west", list[0].Name)
	require.Nil(t, next)

	list, _, err = regions.List(ctx, postgres.ListParams{Limit: 10, Query: "WEST"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, _, err = regions.List(ctx, postgres.ListParams{Limit: 10, Query: "%"})
	require.NoError(t, err)
	require.Empty(t, list, "% is matched literally")

	require.NoError(t, regions.Delete(ctx, us.ID, false))
	require.ErrorIs(t, regions.Delete(ctx, us.ID, false), monitor.ErrNotFound)
}

func TestRegionDeleteInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	regions := postgres.NewRegionStore(pool)
	websites := postgres.NewWebsiteStore(pool)

	eu, err := regions.Create(ctx, "europe")
	require.NoError(t, err)
	asia, err := regions.Create(ctx, "asia")
	require.NoError(t, err)
	explicit, err := websites.Create(ctx, newWebsite("explicit", "europe", "asia"))
	require.NoError(t, err)
	all, err := websites.Create(ctx, newWebsite("all"))
	require.NoError(t, err)
	require.True(t, all.AllRegions)

	err = regions.Delete(ctx, eu.ID, false)
	require.ErrorIs(t, err, monitor.ErrConflict)
	var inUse *postgres.RegionInUseError
	require.ErrorAs(t, err, &inUse)
	require.Equal(t, 1, inUse.Websites)

	got, err := websites.Get(ctx, explicit.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"asia", "europe"}, got.Regions, "a refused delete changes nothing")

	require.NoError(t, regions.Delete(ctx, eu.ID, true))
	got, err = websites.Get(ctx, explicit.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"asia"}, got.Regions)
	require.False(t, got.AllRegions)

	got, err = websites.Get(ctx, all.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"asia"}, got.Regions, "a website on all regions follows the delete")

	// A region that only all-regions websites use is deleted without force.
	_, err = websites.Update(ctx, explicit.ID, func(w *postgres.Website) error {
		w.AllRegions = true
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, regions.Delete(ctx, asia.ID, false))
}
