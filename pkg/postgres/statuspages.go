package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// StatusPage is a public page that shows a chosen, ordered and grouped set of websites. It is
// reachable without a login at /status/{slug}, so it carries only what its owner put on it.
type StatusPage struct {
	ID          string            `json:"id"`
	Slug        string            `json:"slug"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	ShowURLs    bool              `json:"show_urls"`
	Groups      []StatusPageGroup `json:"groups"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// StatusPageGroup is one section of a page, with its websites in display order.
type StatusPageGroup struct {
	Name       string   `json:"name"`
	WebsiteIDs []string `json:"website_ids"`
}

// WebsiteIDs returns every website on the page, in display order, once each.
func (p StatusPage) WebsiteIDs() []string {
	var ids []string
	for _, g := range p.Groups {
		for _, id := range g.WebsiteIDs {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// StatusPageStore keeps status pages with their groups.
type StatusPageStore struct {
	pool *pgxpool.Pool
}

// NewStatusPageStore returns a StatusPageStore on pool.
func NewStatusPageStore(pool *pgxpool.Pool) *StatusPageStore {
	return &StatusPageStore{pool: pool}
}

const statusPageColumns = `p.id, p.slug, p.title, p.description, p.show_urls, p.created_at, p.updated_at`

type rowQuerier interface {
	querier
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Create stores a new page. A slug that is taken is monitor.ErrConflict; a website id that does
// not exist is a *FieldError on "groups".
func (s *StatusPageStore) Create(ctx context.Context, p StatusPage) (StatusPage, error) {
	var out StatusPage
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `INSERT INTO status_pages (slug, title, description, show_urls)
			VALUES ($1, $2, $3, $4) RETURNING id`, p.Slug, p.Title, p.Description, p.ShowURLs).Scan(&id)
		if err != nil {
			return translate(err)
		}
		out, err = saveGroups(ctx, tx, id, p.Groups)
		return err
	})
	if err != nil {
		return StatusPage{}, fmt.Errorf("postgres: create status page %q: %w", p.Slug, err)
	}
	return out, nil
}

// Get returns one page by id.
func (s *StatusPageStore) Get(ctx context.Context, id string) (StatusPage, error) {
	if !validID(id) {
		return StatusPage{}, fmt.Errorf("postgres: get status page %q: %w", id, monitor.ErrNotFound)
	}
	p, err := getStatusPage(ctx, s.pool, `p.id = $1`, id)
	if err != nil {
		return StatusPage{}, fmt.Errorf("postgres: get status page %s: %w", id, err)
	}
	return p, nil
}

// GetBySlug returns the page published at slug.
func (s *StatusPageStore) GetBySlug(ctx context.Context, slug string) (StatusPage, error) {
	p, err := getStatusPage(ctx, s.pool, `p.slug = $1`, slug)
	if err != nil {
		return StatusPage{}, fmt.Errorf("postgres: get status page %q: %w", slug, err)
	}
	return p, nil
}

func getStatusPage(ctx context.Context, q rowQuerier, where string, arg any) (StatusPage, error) {
	var p StatusPage
	err := q.QueryRow(ctx, `SELECT `+statusPageColumns+` FROM status_pages p WHERE `+where, arg).
		Scan(&p.ID, &p.Slug, &p.Title, &p.Description, &p.ShowURLs, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return StatusPage{}, translate(err)
	}
	groups, err := readGroups(ctx, q, []string{p.ID})
	if err != nil {
		return StatusPage{}, err
	}
	p.Groups = groups[p.ID]
	if p.Groups == nil {
		p.Groups = []StatusPageGroup{}
	}
	return p, nil
}

// readGroups returns the groups of each page, in order.
func readGroups(ctx context.Context, q rowQuerier, pageIDs []string) (map[string][]StatusPageGroup, error) {
	rows, err := q.Query(ctx, `SELECT g.page_id, g.position, g.name,
			coalesce(array_agg(w.website_id ORDER BY w.position) FILTER (WHERE w.website_id IS NOT NULL), '{}')
		FROM status_page_groups g
		LEFT JOIN status_page_websites w ON w.page_id = g.page_id AND w.group_position = g.position
		WHERE g.page_id = ANY($1)
		GROUP BY g.page_id, g.position, g.name
		ORDER BY g.page_id, g.position`, pageIDs)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	out := map[string][]StatusPageGroup{}
	var pageID string
	var pos int
	var g StatusPageGroup
	_, err = pgx.ForEachRow(rows, []any{&pageID, &pos, &g.Name, &g.WebsiteIDs}, func() error {
		out[pageID] = append(out[pageID], StatusPageGroup{Name: g.Name, WebsiteIDs: slices.Clone(g.WebsiteIDs)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	return out, nil
}

// writeGroups replaces a page's groups. Website ids must name existing websites.
func writeGroups(ctx context.Context, tx pgx.Tx, pageID string, groups []StatusPageGroup) error {
	if _, err := tx.Exec(ctx, `DELETE FROM status_page_groups WHERE page_id = $1`, pageID); err != nil {
		return fmt.Errorf("clear groups: %w", err)
	}
	var all []string
	for _, g := range groups {
		for _, id := range g.WebsiteIDs {
			if !validID(id) {
				return &FieldError{Field: "groups", Message: fmt.Sprintf("unknown website %q", id)}
			}
			all = append(all, id)
		}
	}
	if len(all) > 0 {
		// FOR KEY SHARE keeps the websites from being deleted before this transaction commits.
		found, err := collectStrings(ctx, tx, `SELECT id::text FROM websites WHERE id = ANY($1::uuid[]) FOR KEY SHARE`, all)
		if err != nil {
			return fmt.Errorf("find websites: %w", err)
		}
		for _, id := range all {
			if !slices.Contains(found, id) {
				return &FieldError{Field: "groups", Message: fmt.Sprintf("unknown website %q", id)}
			}
		}
	}
	batch := &pgx.Batch{}
	for gi, g := range groups {
		batch.Queue(`INSERT INTO status_page_groups (page_id, position, name) VALUES ($1, $2, $3)`, pageID, gi, g.Name)
		for wi, id := range g.WebsiteIDs {
			batch.Queue(`INSERT INTO status_page_websites (page_id, group_position, position, website_id)
				VALUES ($1, $2, $3, $4)`, pageID, gi, wi, id)
		}
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("write groups: %w", translate(err))
	}
	return nil
}

// saveGroups writes a page's groups and reads the page back, inside tx.
func saveGroups(ctx context.Context, tx pgx.Tx, id string, groups []StatusPageGroup) (StatusPage, error) {
	if err := writeGroups(ctx, tx, id, groups); err != nil {
		return StatusPage{}, err
	}
	return getStatusPage(ctx, tx, `p.id = $1`, id)
}

// List returns one page of status pages in creation order, and the cursor of the next page (nil
// at the end). Query matches the slug or the title.
func (s *StatusPageStore) List(ctx context.Context, p ListParams) ([]StatusPage, *Cursor, error) {
	pages, next, err := createdList[StatusPage]{
		what: "status pages", from: `SELECT ` + statusPageColumns + ` FROM status_pages p`, alias: "p.",
		match: []string{"slug", "title"},
		scan: func(row pgx.Row) (StatusPage, error) {
			var p StatusPage
			err := row.Scan(&p.ID, &p.Slug, &p.Title, &p.Description, &p.ShowURLs, &p.CreatedAt, &p.UpdatedAt)
			return p, err
		},
		key: func(p StatusPage) Cursor { return Cursor{CreatedAt: p.CreatedAt, ID: p.ID} },
	}.page(ctx, s.pool, p)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = p.ID
	}
	groups, err := readGroups(ctx, s.pool, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: list status pages: %w", err)
	}
	for i := range pages {
		pages[i].Groups = groups[pages[i].ID]
		if pages[i].Groups == nil {
			pages[i].Groups = []StatusPageGroup{}
		}
	}
	return pages, next, nil
}

// Update changes a page under a row lock: it reads the page, lets change modify it (and refuse
// by returning an error, which Update returns as is), then writes it back with its groups.
func (s *StatusPageStore) Update(ctx context.Context, id string, change func(*StatusPage) error) (StatusPage, error) {
	if !validID(id) {
		return StatusPage{}, fmt.Errorf("postgres: update status page %q: %w", id, monitor.ErrNotFound)
	}
	var out StatusPage
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM status_pages WHERE id = $1 FOR UPDATE`, id); err != nil {
			return translate(err)
		}
		p, err := getStatusPage(ctx, tx, `p.id = $1`, id)
		if err != nil {
			return err
		}
		if err := change(&p); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE status_pages SET slug = $2, title = $3, description = $4,
			show_urls = $5, updated_at = now() WHERE id = $1`, id, p.Slug, p.Title, p.Description, p.ShowURLs)
		if err != nil {
			return translate(err)
		}
		out, err = saveGroups(ctx, tx, id, p.Groups)
		return err
	})
	if err != nil {
		return StatusPage{}, fmt.Errorf("postgres: update status page %s: %w", id, err)
	}
	return out, nil
}

// Delete removes a page and its groups.
func (s *StatusPageStore) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("postgres: delete status page %q: %w", id, monitor.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM status_pages WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete status page %s: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete status page %s: %w", id, monitor.ErrNotFound)
	}
	return nil
}
