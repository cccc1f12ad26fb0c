package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Website is a monitor.Website as stored. AllRegions says that the website follows every
// region, including regions added later; Regions then lists the current ones. Otherwise Regions
// lists the regions it was given by name. It marshals to JSON as a flat object.
type Website struct {
	monitor.Website
	AllRegions bool `json:"all_regions"`
	// WebhooksWithSecret lists the webhooks (of Webhooks) that have a signing secret of their
	// own; the others are signed with VIGIL_WEBHOOK_SECRET. The secrets themselves are never
	// read back: the website store only writes them, and only the notifier's outbox reads one,
	// when it signs a delivery.
	WebhooksWithSecret []string `json:"webhooks_with_secret"`
	// WebhookSecrets changes the webhooks' own secrets when the website is written: URL to
	// "whsec_..." sets one, URL to "" removes it. A webhook not in the map keeps the secret it
	// has, so that a client that sends the URLs back as it read them (the dashboard's form)
	// loses none; a URL that leaves Webhooks loses its secret. Write-only: never marshalled.
	WebhookSecrets map[string]string `json:"-"`
}

// WebsiteStore keeps the monitored websites. Every change is announced on MonitorsChannel with
// the website's id, in the same transaction.
type WebsiteStore struct {
	pool *pgxpool.Pool
}

// NewWebsiteStore returns a WebsiteStore on pool.
func NewWebsiteStore(pool *pgxpool.Pool) *WebsiteStore {
	return &WebsiteStore{pool: pool}
}

// websiteColumns reads a website and the names of its regions, which are every region when it
// follows all regions.
const websiteColumns = `w.id, w.name, w.url, w.method, w.headers, w.body, w.interval_seconds,
	w.timeout_ms, w.slow_ms, w.expected_status, w.keyword, w.all_regions, w.enabled,
	w.alert_emails, w.webhooks, w.confirmations_down, w.confirmations_up,
	w.retry_interval_seconds, w.quorum, w.alert_regional, w.created_at, w.updated_at,
	CASE WHEN w.all_regions
		THEN (SELECT coalesce(array_agg(r.name ORDER BY r.name), '{}') FROM regions r)
		ELSE (SELECT coalesce(array_agg(r.name ORDER BY r.name), '{}')
			FROM website_regions wr JOIN regions r ON r.id = wr.region_id
			WHERE wr.website_id = w.id)
	END,
	ARRAY(SELECT s.url FROM webhook_secrets s WHERE s.website_id = w.id ORDER BY s.url)`

func scanWebsite(row pgx.Row) (Website, error) {
	var w Website
	err := row.Scan(&w.ID, &w.Name, &w.URL, &w.Method, &w.Headers, &w.Body, &w.IntervalSeconds,
		&w.TimeoutMS, &w.SlowMS, &w.ExpectedStatus, &w.Keyword, &w.AllRegions, &w.Enabled,
		&w.AlertEmails, &w.Webhooks, &w.ConfirmationsDown, &w.ConfirmationsUp,
		&w.RetryIntervalSeconds, &w.Quorum, &w.AlertRegional, &w.CreatedAt, &w.UpdatedAt,
		&w.Regions, &w.WebhooksWithSecret)
	if err != nil {
		return Website{}, err
	}
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	return w, nil
}

// Create stores a new website; its ID, CreatedAt and UpdatedAt are assigned here. A website
// with no regions follows all regions. Region names that do not exist, or a quorum above the
// number of regions, are a *FieldError.
func (s *WebsiteStore) Create(ctx context.Context, w Website) (Website, error) {
	var out Website
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		normalizeRegions(&w)
		var id string
		err := tx.QueryRow(ctx, `INSERT INTO websites (name, url, method, headers, body,
			interval_seconds, timeout_ms, slow_ms, expected_status, keyword, all_regions, enabled,
			alert_emails, webhooks, confirmations_down, confirmations_up, retry_interval_seconds,
			quorum, alert_regional)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			RETURNING id`,
			w.Name, w.URL, w.Method, nonNilMap(w.Headers), w.Body, w.IntervalSeconds, w.TimeoutMS,
			w.SlowMS, w.ExpectedStatus, w.Keyword, w.AllRegions, w.Enabled, nonNil(w.AlertEmails),
			nonNil(w.Webhooks), w.ConfirmationsDown, w.ConfirmationsUp, w.RetryIntervalSeconds,
			w.Quorum, w.AlertRegional).Scan(&id)
		if err != nil {
			return translate(err)
		}
		out, err = saveWebsiteRest(ctx, tx, id, w)
		return err
	})
	if err != nil {
		return Website{}, fmt.Errorf("postgres: create website: %w", err)
	}
	return out, nil
}

// saveWebsiteRest writes what a website keeps beside its row (its regions and webhook
// secrets), reads the website back and tells the scheduler, all inside tx.
func saveWebsiteRest(ctx context.Context, tx pgx.Tx, id string, w Website) (Website, error) {
	if err := writeRegions(ctx, tx, id, w); err != nil {
		return Website{}, err
	}
	if err := writeWebhookSecrets(ctx, tx, id, w); err != nil {
		return Website{}, err
	}
	out, err := getWebsite(ctx, tx, id, false)
	if err != nil {
		return Website{}, err
	}
	return out, notifyMonitors(ctx, tx, id)
}

// Get returns one website.
func (s *WebsiteStore) Get(ctx context.Context, id string) (Website, error) {
	if !validID(id) {
		return Website{}, fmt.Errorf("postgres: get website %q: %w", id, monitor.ErrNotFound)
	}
	w, err := getWebsite(ctx, s.pool, id, false)
	if err != nil {
		return Website{}, fmt.Errorf("postgres: get website %s: %w", id, err)
	}
	return w, nil
}

// querier is what a *pgxpool.Pool and a pgx.Tx have in common, for reads that run either alone
// or inside a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func getWebsite(ctx context.Context, q querier, id string, forUpdate bool) (Website, error) {
	sql := `SELECT ` + websiteColumns + ` FROM websites w WHERE w.id = $1`
	if forUpdate {
		sql += ` FOR UPDATE OF w`
	}
	w, err := scanWebsite(q.QueryRow(ctx, sql, id))
	if err != nil {
		return Website{}, translate(err)
	}
	return w, nil
}

// List returns one page of websites in creation order, and the cursor of the next page (nil at
// the end). Query matches the name or the URL.
func (s *WebsiteStore) List(ctx context.Context, p ListParams) ([]Website, *Cursor, error) {
	return createdList[Website]{
		what: "websites", from: `SELECT ` + websiteColumns + ` FROM websites w`, alias: "w.",
		match: []string{"name", "url"}, scan: scanWebsite,
		key: func(w Website) Cursor { return Cursor{CreatedAt: w.CreatedAt, ID: w.ID} },
	}.page(ctx, s.pool, p)
}

// Update changes a website under a row lock: it reads the website, lets change modify it (and
// refuse by returning an error, which Update returns as is), then writes it back. Concurrent
// updates of one website therefore apply one after the other and none is lost. ID and
// CreatedAt cannot change.
func (s *WebsiteStore) Update(ctx context.Context, id string, change func(*Website) error) (Website, error) {
	if !validID(id) {
		return Website{}, fmt.Errorf("postgres: update website %q: %w", id, monitor.ErrNotFound)
	}
	var out Website
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := getWebsite(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := change(&w); err != nil {
			return err
		}
		normalizeRegions(&w)
		_, err = tx.Exec(ctx, `UPDATE websites SET name = $2, url = $3, method = $4, headers = $5,
			body = $6, interval_seconds = $7, timeout_ms = $8, slow_ms = $9, expected_status = $10,
			keyword = $11, all_regions = $12, enabled = $13, alert_emails = $14, webhooks = $15,
			confirmations_down = $16, confirmations_up = $17, retry_interval_seconds = $18,
			quorum = $19, alert_regional = $20, updated_at = now()
			WHERE id = $1`,
			id, w.Name, w.URL, w.Method, nonNilMap(w.Headers), w.Body, w.IntervalSeconds,
			w.TimeoutMS, w.SlowMS, w.ExpectedStatus, w.Keyword, w.AllRegions, w.Enabled,
			nonNil(w.AlertEmails), nonNil(w.Webhooks), w.ConfirmationsDown, w.ConfirmationsUp,
			w.RetryIntervalSeconds, w.Quorum, w.AlertRegional)
		if err != nil {
			return translate(err)
		}
		out, err = saveWebsiteRest(ctx, tx, id, w)
		return err
	})
	if err != nil {
		return Website{}, fmt.Errorf("postgres: update website %s: %w", id, err)
	}
	return out, nil
}

// CountUpTo counts the websites of the install, reading at most limit rows, so that a cap
// check stays cheap however many there are: the answer is min(count, limit).
func (s *WebsiteStore) CountUpTo(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM websites LIMIT $1) w`, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count websites: %w", err)
	}
	return n, nil
}

// Delete removes a website and its region list.
func (s *WebsiteStore) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("postgres: delete website %q: %w", id, monitor.ErrNotFound)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM websites WHERE id = $1`, id)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return monitor.ErrNotFound
		}
		return notifyMonitors(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete website %s: %w", id, err)
	}
	return nil
}

// normalizeRegions applies the rule that a website without regions follows all of them, and
// sorts and deduplicates explicit names.
func normalizeRegions(w *Website) {
	if len(w.Regions) == 0 {
		w.AllRegions = true
	}
	if w.AllRegions {
		w.Regions = nil
		return
	}
	w.Regions = slices.Clone(w.Regions)
	slices.Sort(w.Regions)
	w.Regions = slices.Compact(w.Regions)
}

// writeRegions replaces the website's explicit region list and checks its quorum against the
// number of regions it will be checked from.
func writeRegions(ctx context.Context, tx pgx.Tx, id string, w Website) error {
	if _, err := tx.Exec(ctx, `DELETE FROM website_regions WHERE website_id = $1`, id); err != nil {
		return fmt.Errorf("clear regions: %w", err)
	}
	var n int
	if w.AllRegions {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM regions`).Scan(&n); err != nil {
			return fmt.Errorf("count regions: %w", err)
		}
	} else {
		// FOR KEY SHARE keeps the regions from being deleted before this transaction commits.
		found, err := collectStrings(ctx, tx, `SELECT name FROM regions WHERE name = ANY($1) FOR KEY SHARE`, w.Regions)
		if err != nil {
			return fmt.Errorf("find regions: %w", err)
		}
		for _, name := range w.Regions {
			if !slices.Contains(found, name) {
				return &FieldError{Field: "regions", Message: fmt.Sprintf("unknown region %q", name)}
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO website_regions (website_id, region_id)
			SELECT $1, id FROM regions WHERE name = ANY($2)`, id, w.Regions)
		if err != nil {
			return fmt.Errorf("write regions: %w", translate(err))
		}
		n = int(tag.RowsAffected())
	}
	if w.Quorum > n {
		return &FieldError{Field: "quorum", Message: fmt.Sprintf("must be at most the number of regions (%d)", n)}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// writeWebhookSecrets applies w.WebhookSecrets and drops the secrets of URLs that are no longer
// among w.Webhooks, so that a secret never outlives its webhook.
func writeWebhookSecrets(ctx context.Context, tx pgx.Tx, id string, w Website) error {
	if _, err := tx.Exec(ctx, `DELETE FROM webhook_secrets WHERE website_id = $1 AND NOT (url = ANY($2))`,
		id, nonNil(w.Webhooks)); err != nil {
		return fmt.Errorf("drop webhook secrets: %w", err)
	}
	for u, secret := range w.WebhookSecrets {
		var err error
		switch {
		case !slices.Contains(w.Webhooks, u):
			continue
		case secret == "":
			_, err = tx.Exec(ctx, `DELETE FROM webhook_secrets WHERE website_id = $1 AND url = $2`, id, u)
		default:
			_, err = tx.Exec(ctx, `INSERT INTO webhook_secrets (website_id, url, secret) VALUES ($1, $2, $3)
				ON CONFLICT (website_id, url) DO UPDATE SET secret = excluded.secret, updated_at = now()`, id, u, secret)
		}
		if err != nil {
			// Never wrap the statement's arguments: the error would carry the secret.
			return fmt.Errorf("write a webhook secret: %w", translate(err))
		}
	}
	return nil
}
