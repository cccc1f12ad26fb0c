package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func TestStatusPageCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	websites := postgres.NewWebsiteStore(pool)
	pages := postgres.NewStatusPageStore(pool)
	var ids []string
	for _, name := range []string{"api", "web", "cdn"} {
		w, err := websites.Create(ctx, newWebsite(name))
		require.NoError(t, err)
		ids = append(ids, w.ID)
	}

	p, err := pages.Create(ctx, postgres.StatusPage{
		Slug: "acme", Title: "Acme <status>",
		Groups: []postgres.StatusPageGroup{
			{Name: "Core", WebsiteIDs: []string{ids[1], ids[0]}},
			{Name: "Edge", WebsiteIDs: []string{ids[2]}},
			{Name: "Empty"},
		},
	})
	require.NoError(t, err)
	require.Equal(t, "Acme <status>", p.Title)
	require.False(t, p.ShowURLs, "URLs are opt-in")
	require.Equal(t, []postgres.StatusPageGroup{
		{Name: "Core", WebsiteIDs: []string{ids[1], ids[0]}},
		{Name: "Edge", WebsiteIDs: []string{ids[2]}},
		{Name: "Empty", WebsiteIDs: []string{}},
	}, p.Groups, "groups and websites keep their order")
	require.Equal(t, []string{ids[1], ids[0], ids[2]}, p.WebsiteIDs())

	got, err := pages.GetBySlug(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, p, got)

	_, err = pages.Create(ctx, postgres.StatusPage{Slug: "acme", Title: "again"})
	require.ErrorIs(t, err, monitor.ErrConflict)

	p, err = pages.Update(ctx, p.ID, func(p *postgres.StatusPage) error {
		p.ShowURLs = true
		p.Groups = []postgres.StatusPageGroup{{Name: "All", WebsiteIDs: []string{ids[2], ids[0]}}}
		return nil
	})
	require.NoError(t, err)
	require.True(t, p.ShowURLs)
	require.Equal(t, []postgres.StatusPageGroup{{Name: "All", WebsiteIDs: []string{ids[2], ids[0]}}}, p.Groups)

	// Deleting a website takes it off the page.
	require.NoError(t, websites.Delete(ctx, ids[2]))
	got, err = pages.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, []string{ids[0]}, got.Groups[0].WebsiteIDs)

	list, next, err := pages.List(ctx, postgres.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Nil(t, next)
	require.Len(t, list, 1)
	require.Equal(t, got.Groups, list[0].Groups)

	require.NoError(t, pages.Delete(ctx, p.ID))
	_, err = pages.Get(ctx, p.ID)
	require.ErrorIs(t, err, monitor.ErrNotFound)
	require.ErrorIs(t, pages.Delete(ctx, p.ID), monitor.ErrNotFound)
}

func TestStatusPageRefusesUnknownWebsites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pages := postgres.NewStatusPageStore(pgtest.Pool(t))
	for name, id := range map[string]string{
		"missing":  "00000000-0000-4000-8000-000000000000",
		"not uuid": "1; DROP TABLE websites",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pages.Create(ctx, postgres.StatusPage{
				Slug: "s", Title: "t", Groups: []postgres.StatusPageGroup{{Name: "g", WebsiteIDs: []string{id}}},
			})
			var fe *postgres.FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			require.Equal(t, "groups", fe.Field)
		})
	}
	_, err := pages.Get(ctx, "nope")
	require.ErrorIs(t, err, monitor.ErrNotFound)
	_, err = pages.GetBySlug(ctx, "nope")
	require.ErrorIs(t, err, monitor.ErrNotFound)
}

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	keys := postgres.NewAPIKeyStore(pool)
	sessions := postgres.NewSessionStore(pool)
	key, _, err := keys.Create(ctx, "dash")
	require.NoError(t, err)

	s, err := sessions.Create(ctx, key.ID, time.Hour)
	require.NoError(t, err)
	require.NotEmpty(t, s.Token)
	require.NotEmpty(t, s.CSRFToken)
	require.WithinDuration(t, time.Now().Add(time.Hour), s.ExpiresAt, time.Minute)

	got, err := sessions.Lookup(ctx, s.Token)
	require.NoError(t, err)
	require.Equal(t, key.ID, got.KeyID)
	require.Equal(t, s.CSRFToken, got.CSRFToken)

	_, err = sessions.Lookup(ctx, "forged")
	require.ErrorIs(t, err, monitor.ErrNotFound)

	expired, err := sessions.Create(ctx, key.ID, -time.Second)
	require.NoError(t, err)
	_, err = sessions.Lookup(ctx, expired.Token)
	require.ErrorIs(t, err, monitor.ErrNotFound, "an expired session is dead")

	require.NoError(t, sessions.Delete(ctx, s.Token))
	_, err = sessions.Lookup(ctx, s.Token)
	require.ErrorIs(t, err, monitor.ErrNotFound, "logged out")
	require.NoError(t, sessions.Delete(ctx, s.Token), "logging out twice is fine")

	s, err = sessions.Create(ctx, key.ID, time.Hour)
	require.NoError(t, err)
	require.NoError(t, keys.Revoke(ctx, key.ID))
	_, err = sessions.Lookup(ctx, s.Token)
	require.ErrorIs(t, err, monitor.ErrNotFound, "revoking the key ends its sessions")
}
