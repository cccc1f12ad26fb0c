package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// KeyPrefix starts every generated API key, so that a leaked key is recognisable in a scan.
const KeyPrefix = "vgl_"

// lastUsedGranularity is how stale last_used_at may be. Authenticating writes it at most once
// per key in this window, so that a busy client does not turn every request into a write.
const lastUsedGranularity = time.Minute

// APIKey is an API key as listed: never the key itself, which is shown once at creation.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"` // the key's first characters, to tell keys apart
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// APIKeyStore keeps API keys as SHA-256 hashes. A key has 256 random bits, so a fast unsalted
// hash is enough: there is nothing to guess.
type APIKeyStore struct {
	pool *pgxpool.Pool
}

// NewAPIKeyStore returns an APIKeyStore on pool.
func NewAPIKeyStore(pool *pgxpool.Pool) *APIKeyStore {
	return &APIKeyStore{pool: pool}
}

const apiKeyColumns = `id, name, prefix, created_at, last_used_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	return k, err
}

// HashKey is how a key is stored and looked up.
func HashKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

func keyPrefix(key string) string {
	return key[:min(len(key), len(KeyPrefix)+6)]
}

// Create generates a key and stores its hash. The returned plaintext is the only copy.
func (s *APIKeyStore) Create(ctx context.Context, name string) (APIKey, string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return APIKey{}, "", fmt.Errorf("postgres: create api key: %w", err)
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	k, err := scanAPIKey(s.pool.QueryRow(ctx,
		`INSERT INTO api_keys (name, hash, prefix) VALUES ($1, $2, $3) RETURNING `+apiKeyColumns,
		name, HashKey(key), keyPrefix(key)))
	if err != nil {
		return APIKey{}, "", fmt.Errorf("postgres: create api key %q: %w", name, translate(err))
	}
	return k, key, nil
}

// Ensure stores a key chosen by the operator (VIGIL_API_KEY) unless its hash is already there,
// and returns the stored key. It is safe to call at every start and from many replicas at once.
// A key that was revoked stays revoked.
func (s *APIKeyStore) Ensure(ctx context.Context, name, key string) (APIKey, error) {
	if strings.TrimSpace(key) == "" {
		return APIKey{}, fmt.Errorf("postgres: ensure api key %q: the key is empty", name)
	}
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, HashKey(key)))
	if err == nil {
		return k, nil
	}
	if err = translate(err); !errors.Is(err, monitor.ErrNotFound) {
		return APIKey{}, fmt.Errorf("postgres: ensure api key %q: %w", name, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO api_keys (name, hash, prefix) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO NOTHING`, name, HashKey(key), keyPrefix(key))
	if err != nil {
		return APIKey{}, fmt.Errorf("postgres: ensure api key %q: %w", name, err)
	}
	k, err = scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, HashKey(key)))
	if err != nil {
		return APIKey{}, fmt.Errorf("postgres: ensure api key %q: %w", name, translate(err))
	}
	return k, nil
}

// Authenticate returns the live key whose plaintext is key, or monitor.ErrNotFound for an
// unknown or revoked key. It records the use, at most once per minute per key.
func (s *APIKeyStore) Authenticate(ctx context.Context, key string) (APIKey, error) {
	hash := HashKey(key)
	k, err := scanAPIKey(s.pool.QueryRow(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if err != nil {
		return APIKey{}, fmt.Errorf("postgres: authenticate: %w", translate(err))
	}
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > lastUsedGranularity {
		// The condition is repeated in SQL so that concurrent requests write once, and the
		// database's clock decides.
		_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1
			AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
			k.ID, lastUsedGranularity.Seconds())
		if err != nil {
			return APIKey{}, fmt.Errorf("postgres: record api key use: %w", err)
		}
	}
	return k, nil
}

// List returns every key, revoked ones included, oldest first.
func (s *APIKeyStore) List(ctx context.Context) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		return scanAPIKey(row)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	return keys, nil
}

// Revoke stops a key from authenticating. Revoking a revoked key changes nothing; an unknown id
// is monitor.ErrNotFound.
func (s *APIKeyStore) Revoke(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("postgres: revoke api key %q: %w", id, monitor.ErrNotFound)
	}
	var got string
	err := s.pool.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 RETURNING id`, id).Scan(&got)
	if err != nil {
		return fmt.Errorf("postgres: revoke api key %s: %w", id, translate(err))
	}
	return nil
}
