package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// seedOverview inserts n websites with set-based SQL (far faster than n API calls), each with a
// state in two regions; every 50th is down with an open incident and every 10th has a past one.
func seedOverview(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, fmt.Sprintf(`
		INSERT INTO websites (name, url, created_at)
		SELECT 'site-' || g, 'https://site-' || g || '.example', now() - make_interval(secs => g)
		FROM generate_series(1, %d) g;
		INSERT INTO region_states (website_id, region, state, since)
		SELECT w.id, r.region, CASE WHEN row_number() OVER (ORDER BY w.id) %% 50 = 0 THEN 'down' ELSE 'up' END, now()
		FROM websites w CROSS JOIN (VALUES ('eu'), ('us')) r(region);
		INSERT INTO incidents (website_id, started_at, outcome)
		SELECT website_id, now() - interval '5 minutes', 'down' FROM region_states
		WHERE region = 'eu' AND state = 'down';
		INSERT INTO incidents (website_id, started_at, ended_at, outcome)
		SELECT id, now() - interval '3 days', now() - interval '2 days', 'timeout' FROM websites
		WHERE abs(hashtext(id::text)) %% 10 = 0;
		ANALYZE websites; ANALYZE region_states; ANALYZE incidents;`, n))
	require.NoError(tb, err)
}
