package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func insertRegions(t testing.TB, pool *pgxpool.Pool, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := pool.Exec(context.Background(), `INSERT INTO regions (name) VALUES ($1)`, n)
		require.NoError(t, err)
	}
}

// insertPairWebsite adds a website through SQL; no regions means all regions.
func insertPairWebsite(t testing.TB, pool *pgxpool.Pool, name string, enabled bool, regions ...string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	err := pool.QueryRow(ctx, `INSERT INTO websites (name, url, enabled, all_regions, headers, keyword, interval_seconds)
		VALUES ($1, $2, $3, $4, '{"X-Probe": "vigil"}', 'ok', 30) RETURNING id`,
		name, "https://"+name+".example/", enabled, len(regions) == 0).Scan(&id)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO website_regions (website_id, region_id)
		SELECT $1, id FROM regions WHERE name = ANY($2)`, id, regions)
	require.NoError(t, err)
	return id
}

func TestPairStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	store := postgres.NewPairStore(pool)
	insertRegions(t, pool, "eu", "us", "ap")
	all := insertPairWebsite(t, pool, "all", true)
	two := insertPairWebsite(t, pool, "two", true, "eu", "ap")
	off := insertPairWebsite(t, pool, "off", true, "us")
	_, err := pool.Exec(ctx, `UPDATE websites SET enabled = false WHERE id = $1`, off)
	require.NoError(t, err)

	got := map[string]*postgres.PairWebsite{}
	require.NoError(t, store.Each(ctx, func(w *postgres.PairWebsite) error {
		c := *w
		c.Regions = slices.Sorted(slices.Values(w.Regions))
		got[w.ID] = &c
		return nil
	}))
	require.Len(t, got, 2, "the disabled website is not loaded")
	require.Equal(t, []string{"ap", "eu", "us"}, got[all].Regions)
	require.Equal(t, []string{"ap", "eu"}, got[two].Regions)
	w := got[two]
	require.Equal(t, "https://two.example/", w.URL)
	require.Equal(t, "GET", w.Method)
	require.Equal(t, map[string]string{"X-Probe": "vigil"}, w.Headers)
	require.Equal(t, "ok", w.Keyword)
	require.Equal(t, 30, w.IntervalSeconds)
	require.Equal(t, monitor.DefaultTimeoutMS, w.TimeoutMS)
	require.Equal(t, monitor.DefaultExpectedStatus, w.ExpectedStatus)
	require.Equal(t, monitor.DefaultConfirmationsDown, w.ConfirmationsDown)
	require.Equal(t, monitor.DefaultRetryIntervalSeconds, w.RetryIntervalSeconds)
	require.True(t, w.Enabled)
	require.Equal(t, two, fmt.Sprintf("%x-%x-%x-%x-%x", w.UUID[0:4], w.UUID[4:6], w.UUID[6:8], w.UUID[8:10], w.UUID[10:]))

	t.Run("by id sees disabled websites and skips unknown ids", func(t *testing.T) {
		seen := map[string]bool{}
		err := store.EachByID(ctx, []string{off, two, "not-a-uuid", "00000000-0000-0000-0000-000000000000"},
			func(w *postgres.PairWebsite) error {
				seen[w.ID] = w.Enabled
				if w.ID == off {
					require.Equal(t, []string{"us"}, w.Regions)
				}
				return nil
			})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{off: false, two: true}, seen)
	})

	t.Run("one website", func(t *testing.T) {
		w, err := store.PairWebsiteByID(ctx, all)
		require.NoError(t, err)
		require.Len(t, w.Regions, 3)
		_, err = store.PairWebsiteByID(ctx, "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, monitor.ErrNotFound)
	})
}

// copyWebsites inserts n websites with COPY, which is how a benchmark gets a million rows in a
// few seconds. With explicit regions, each website gets all of them through website_regions.
func copyWebsites(b *testing.B, pool *pgxpool.Pool, n int, explicit bool) {
	b.Helper()
	ctx := context.Background()
	rows := make([][]any, 0, n)
	for i := range n {
		rows = append(rows, []any{fmt.Sprintf("site-%d", i), fmt.Sprintf("https://site-%d.example/", i), !explicit})
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"websites"}, []string{"name", "url", "all_regions"}, pgx.CopyFromRows(rows))
	require.NoError(b, err)
	if explicit {
		_, err = pool.Exec(ctx, `INSERT INTO website_regions (website_id, region_id)
			SELECT w.id, r.id FROM websites w CROSS JOIN regions r`)
		require.NoError(b, err)
	}
	_, err = pool.Exec(ctx, `ANALYZE`)
	require.NoError(b, err)
}

// BenchmarkPairStoreEach is the time to stream every pair out of PostgreSQL (issue 8: load a
// million pairs in under 30 s). It reports pairs/s and the seconds per full load.
func BenchmarkPairStoreEach(b *testing.B) {
	cases := []struct {
		name     string
		websites int
		regions  []string
		explicit bool
	}{
		{"pairs=100k/all_regions", 100_000, []string{"eu"}, false},
		{"pairs=1M/all_regions", 334_000, []string{"eu", "us", "ap"}, false},
		{"pairs=1M/explicit_regions", 334_000, []string{"eu", "us", "ap"}, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			pool := pgtest.Pool(b)
			insertRegions(b, pool, c.regions...)
			copyWebsites(b, pool, c.websites, c.explicit)
			store := postgres.NewPairStore(pool)
			pairs := 0
			for b.Loop() {
				pairs = 0
				require.NoError(b, store.Each(context.Background(), func(w *postgres.PairWebsite) error {
					pairs += len(w.Regions)
					return nil
				}))
			}
			require.Equal(b, c.websites*len(c.regions), pairs)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/load")
			b.ReportMetric(float64(pairs)/sec, "pairs/s")
		})
	}
}
