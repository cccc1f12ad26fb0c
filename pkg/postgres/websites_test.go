package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// newWebsite returns a website with the API's defaults.
func newWebsite(name string, regions ...string) postgres.Website {
	return postgres.Website{Website: monitor.Website{
		Name:                 name,
		URL:                  "https://" + name + ".example",
		Method:               "GET",
		IntervalSeconds:      monitor.DefaultIntervalSeconds,
		TimeoutMS:            monitor.DefaultTimeoutMS,
		ExpectedStatus:       monitor.DefaultExpectedStatus,
		Regions:              regions,
		Enabled:              true,
		ConfirmationsDown:    monitor.DefaultConfirmationsDown,
		ConfirmationsUp:      monitor.DefaultConfirmationsUp,
		RetryIntervalSeconds: monitor.DefaultRetryIntervalSeconds,
	}}
}

func TestWebsiteCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	websites := postgres.NewWebsiteStore(pool)
	regions := postgres.NewRegionStore(pool)
	for _, name := range []string{"europe", "asia"} {
		_, err := regions.Create(ctx, name)
		require.NoError(t, err)
	}

	in := newWebsite(`o'brien"; DROP TABLE websites; --`, "europe")
	in.Headers = map[string]string{"X-Token": "abc"}
	in.AlertEmails = []string{"ops@example.com"}
	in.Quorum = 1
	w, err := websites.Create(ctx, in)
	require.NoError(t, err)
	require.NotEmpty(t, w.ID)
	require.Equal(t, in.Name, w.Name, "SQL metacharacters are stored verbatim")
	require.Equal(t, []string{"europe"}, w.Regions)
	require.False(t, w.AllRegions)
	require.Equal(t, map[string]string{"X-Token": "abc"}, w.Headers)
	require.Equal(t, []string{"ops@example.com"}, w.AlertEmails)
	require.Equal(t, []string{}, w.Webhooks)
	require.False(t, w.CreatedAt.IsZero())

	got, err := websites.Get(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w, got)

	all, err := websites.Create(ctx, newWebsite("all"))
	require.NoError(t, err)
	require.True(t, all.AllRegions)
	require.Equal(t, []string{"asia", "europe"}, all.Regions)
	require.Equal(t, map[string]string{}, all.Headers)

	updated, err := websites.Update(ctx, w.ID, func(w *postgres.Website) error {
		w.Name = "renamed"
		w.Regions = []string{"asia", "europe", "asia"}
		w.Quorum = 2
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "renamed", updated.Name)
	require.Equal(t, []string{"asia", "europe"}, updated.Regions)
	require.Equal(t, w.CreatedAt, updated.CreatedAt)
	require.True(t, updated.UpdatedAt.After(w.UpdatedAt) || updated.UpdatedAt.Equal(w.UpdatedAt))

	refused := errors.New("refused")
	_, err = websites.Update(ctx, w.ID, func(w *postgres.Website) error {
		w.Name = "never stored"
		return refused
	})
	require.ErrorIs(t, err, refused)
	got, err = websites.Get(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, "renamed", got.Name)

	require.NoError(t, websites.Delete(ctx, w.ID))
	_, err = websites.Get(ctx, w.ID)
	require.ErrorIs(t, err, monitor.ErrNotFound)
	require.ErrorIs(t, websites.Delete(ctx, w.ID), monitor.ErrNotFound)
	_, err = websites.Update(ctx, w.ID, func(*postgres.Website) error { return nil })
	require.ErrorIs(t, err, monitor.ErrNotFound)
	require.ErrorIs(t, websites.Delete(ctx, "'; DROP TABLE websites; --"), monitor.ErrNotFound)
}

func TestWebsiteFieldErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	websites := postgres.NewWebsiteStore(pool)
	_, err := postgres.NewRegionStore(pool).Create(ctx, "europe")
	require.NoError(t, err)

	tests := []struct {
		name    string
		website postgres.Website
		field   string
	}{
		{"unknown region", newWebsite("a", "europe", "mars"), "regions"},
		{"quorum above explicit regions", func() postgres.Website {
			w := newWebsite("b", "europe")
			w.Quorum = 2
			return w
		}(), "quorum"},
		{"quorum above all regions", func() postgres.Website {
			w := newWebsite("c")
			w.Quorum = 2
			return w
		}(), "quorum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := websites.Create(ctx, tt.website)
			var fe *postgres.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
		})
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM websites`).Scan(&n))
	require.Zero(t, n, "a refused website leaves nothing behind")
}

func TestWebsiteListPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	websites := postgres.NewWebsiteStore(pool)

	// Rows created in one transaction share created_at, so the id must break the tie.
	_, err := pool.Exec(ctx, `INSERT INTO websites (name, url)
		SELECT 'site-' || i, 'https://site' || i || '.example/' FROM generate_series(1, 7) i`)
	require.NoError(t, err)
	_, err = websites.Create(ctx, newWebsite("100%_literal"))
	require.NoError(t, err)

	var seen []string
	var after *postgres.Cursor
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, next, err := websites.List(ctx, postgres.ListParams{Limit: 3, After: after})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 3)
		for _, w := range page {
			seen = append(seen, w.ID)
		}
		if next == nil {
			break
		}
		after = next
	}
	require.Len(t, seen, 8)
	seenSet := map[string]bool{}
	for _, id := range seen {
		seenSet[id] = true
	}
	require.Len(t, seenSet, 8, "no row twice")

	tests := []struct {
		q    string
		want int
	}{
		{"SITE-", 7},
		{"site3.example", 1},
		{"100%_", 1},
		{"%", 1},
		{"_", 1},
		{"nothing", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("q=%s", tt.q), func(t *testing.T) {
			page, next, err := websites.List(ctx, postgres.ListParams{Limit: 50, Query: tt.q})
			require.NoError(t, err)
			require.Nil(t, next)
			require.Len(t, page, tt.want)
		})
	}
}

func TestWebsiteNotifies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool := pgtest.Pool(t)
	websites := postgres.NewWebsiteStore(pool)

	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "LISTEN "+postgres.MonitorsChannel)
	require.NoError(t, err)

	// Notifications are database-wide and other tests run in parallel: wait for ours.
	waitFor := func(payload string) {
		t.Helper()
		for {
			n, err := conn.WaitForNotification(ctx)
			require.NoError(t, err, "waiting for %q", payload)
			if n.Channel == postgres.MonitorsChannel && n.Payload == payload {
				return
			}
		}
	}
	w, err := websites.Create(ctx, newWebsite("notified"))
	require.NoError(t, err)
	waitFor(w.ID)
	_, err = websites.Update(ctx, w.ID, func(w *postgres.Website) error { w.Enabled = false; return nil })
	require.NoError(t, err)
	waitFor(w.ID)
	require.NoError(t, websites.Delete(ctx, w.ID))
	waitFor(w.ID)

	_, err = postgres.NewRegionStore(pool).Create(ctx, "europe")
	require.NoError(t, err)
	waitFor(postgres.NotifyAll)

	// A refused change notifies nothing: the NOTIFY is in the transaction that rolled back.
	// Notifications arrive in commit order, so by the time b's arrives, a's would have.
	a, err := websites.Create(ctx, newWebsite("a"))
	require.NoError(t, err)
	waitFor(a.ID)
	b, err := websites.Create(ctx, newWebsite("b"))
	require.NoError(t, err)
	waitFor(b.ID)
	_, err = websites.Update(ctx, a.ID, func(w *postgres.Website) error { return errors.New("refused") })
	require.Error(t, err)
	_, err = websites.Update(ctx, b.ID, func(w *postgres.Website) error { w.Name = "b2"; return nil })
	require.NoError(t, err)
	for {
		n, err := conn.WaitForNotification(ctx)
		require.NoError(t, err)
		require.NotEqual(t, a.ID, n.Payload, "a refused update must not notify")
		if n.Payload == b.ID {
			break
		}
	}
}
