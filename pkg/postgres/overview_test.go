package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func TestOverviewStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	websites := postgres.NewWebsiteStore(pool)
	overview := postgres.NewOverviewStore(pool)

	ids := map[string]string{}
	for _, name := range []string{"a-up", "b-down", "c-degraded", "d-unknown", "e-paused"} {
		w := newWebsite(name)
		w.Enabled = name != "e-paused"
		got, err := websites.Create(ctx, w)
		require.NoError(t, err)
		ids[name] = got.ID
	}
	now := time.Now().UTC().Truncate(time.Second)
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	state := `INSERT INTO region_states (website_id, region, state, since) VALUES ($1, $2, $3, now())`
	exec(state, ids["a-up"], "eu", "up")
	exec(state, ids["b-down"], "eu", "down")
	exec(state, ids["c-degraded"], "eu", "down")
	exec(state, ids["c-degraded"], "us", "up")
	exec(state, ids["e-paused"], "eu", "down")
	incident := `INSERT INTO incidents (website_id, started_at, ended_at, outcome) VALUES ($1, $2, $3, 'down')`
	exec(incident, ids["b-down"], now.Add(-time.Hour), nil)
	exec(incident, ids["a-up"], now.Add(-3*time.Hour), now.Add(-2*time.Hour))

	page, err := overview.Page(ctx, postgres.OverviewParams{Limit: 50})
	require.NoError(t, err)
	require.Equal(t, 5, page.Total)
	require.Equal(t, map[string]int{"up": 1, "down": 1, "degraded": 1, "unknown": 1, "paused": 1}, page.Counts)
	got := map[string]postgres.OverviewRow{}
	for _, r := range page.Rows {
		got[r.Name] = r
	}
	for name, want := range map[string]string{"a-up": "up", "b-down": "down", "c-degraded": "degraded", "d-unknown": "unknown", "e-paused": "paused"} {
		require.Equal(t, want, got[name].State, name)
	}
	require.Equal(t, []string{"eu"}, got["c-degraded"].DownRegions)
	require.Equal(t, now.Add(-time.Hour), got["b-down"].DownSince.UTC())
	require.Equal(t, now.Add(-2*time.Hour), got["a-up"].LastDowntimeEnd.UTC())

	for _, tc := range []struct {
		name  string
		p     postgres.OverviewParams
		want  []string
		total int
	}{
		{"state filter", postgres.OverviewParams{State: "degraded", Limit: 50}, []string{"c-degraded"}, 1},
		{"query", postgres.OverviewParams{Query: "DOWN", Limit: 50}, []string{"b-down"}, 1},
		{"query is literal", postgres.OverviewParams{Query: "%", Limit: 50}, nil, 0},
		{"second page", postgres.OverviewParams{Limit: 2, Offset: 2}, []string{"c-degraded", "d-unknown"}, 5},
		{"filtered page", postgres.OverviewParams{State: "up", Limit: 2, Offset: 2}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := overview.Page(ctx, tc.p)
			require.NoError(t, err)
			var names []string
			for _, r := range page.Rows {
				names = append(names, r.Name)
			}
			require.Equal(t, tc.want, names)
			require.Equal(t, tc.total, page.Total)
		})
	}

	rows, err := overview.Rows(ctx, []string{ids["d-unknown"], "bogus", ids["a-up"]})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, "d-unknown", rows[0].Name)
	require.Equal(t, "a-up", rows[1].Name)

	periods, err := overview.IncidentPeriods(ctx, []string{ids["a-up"], ids["b-down"]}, now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.Len(t, periods, 2)

	incidents, err := overview.RecentIncidents(ctx, []string{ids["a-up"], ids["b-down"]}, now.Add(-24*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, incidents, 2)
	require.Equal(t, ids["b-down"], incidents[0].WebsiteID, "newest first")
	require.Nil(t, incidents[0].EndedAt)
}

// BenchmarkOverviewFirstPage measures the overview's first page with 10,000 websites, a
// confirmed state in two regions each and some incidents.
func BenchmarkOverviewFirstPage(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b)
	seedOverview(b, pool, 10000)
	overview := postgres.NewOverviewStore(pool)
	for _, p := range []postgres.OverviewParams{{Limit: 50}, {Limit: 50, State: "down"}, {Limit: 50, Query: "site-12"}} {
		b.Run(fmt.Sprintf("state=%q,query=%q", p.State, p.Query), func(b *testing.B) {
			for b.Loop() {
				if _, err := overview.Page(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
