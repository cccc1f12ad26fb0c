package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Session is a dashboard login. Token is the cookie's value and is only known at creation;
// CSRFToken is what the browser must echo on every state-changing request.
type Session struct {
	Token     string
	KeyID     string
	CSRFToken string
	ExpiresAt time.Time
}

// SessionStore keeps dashboard sessions as hashes of their tokens, each bound to the API key
// that opened it, so that a stolen database row cannot be replayed and a revoked key ends its
// sessions.
type SessionStore struct {
	pool *pgxpool.Pool
}

// NewSessionStore returns a SessionStore on pool.
func NewSessionStore(pool *pgxpool.Pool) *SessionStore {
	return &SessionStore{pool: pool}
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Create opens a session for the key keyID that lasts ttl. It also deletes expired sessions, so
// that the table stays as small as the number of live logins.
func (s *SessionStore) Create(ctx context.Context, keyID string, ttl time.Duration) (Session, error) {
	token, err := randomToken()
	if err != nil {
		return Session{}, fmt.Errorf("postgres: create session: %w", err)
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, fmt.Errorf("postgres: create session: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM dashboard_sessions WHERE expires_at < now()`); err != nil {
		return Session{}, fmt.Errorf("postgres: expire sessions: %w", err)
	}
	out := Session{Token: token, KeyID: keyID, CSRFToken: csrf}
	err = s.pool.QueryRow(ctx, `INSERT INTO dashboard_sessions (token_hash, key_id, csrf_token, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at`,
		hashToken(token), keyID, csrf, ttl.Seconds()).Scan(&out.ExpiresAt)
	if err != nil {
		return Session{}, fmt.Errorf("postgres: create session: %w", translate(err))
	}
	return out, nil
}

// Lookup returns the live session whose token is token: not expired, and opened with a key that
// is not revoked. Anything else is monitor.ErrNotFound.
func (s *SessionStore) Lookup(ctx context.Context, token string) (Session, error) {
	out := Session{Token: token}
	err := s.pool.QueryRow(ctx, `SELECT s.key_id, s.csrf_token, s.expires_at
		FROM dashboard_sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL`,
		hashToken(token)).Scan(&out.KeyID, &out.CSRFToken, &out.ExpiresAt)
	if err != nil {
		return Session{}, fmt.Errorf("postgres: lookup session: %w", translate(err))
	}
	return out, nil
}

// Delete ends the session whose token is token. Ending an unknown session is not an error: a
// logout must always succeed.
func (s *SessionStore) Delete(ctx context.Context, token string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM dashboard_sessions WHERE token_hash = $1`, hashToken(token)); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}
