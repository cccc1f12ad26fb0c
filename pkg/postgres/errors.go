package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// PostgreSQL error codes that the stores translate.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// FieldError is a value that the stores refuse because of what is in the database (a region
// that does not exist, a quorum larger than the website's regions). The API answers it with a
// validation error on Field, like the checks it makes itself.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// translate turns driver errors into the domain's, so that no caller above this package has to
// know pgx: no rows becomes monitor.ErrNotFound, a unique or foreign-key violation becomes
// monitor.ErrConflict (a concurrent change won the race). Other errors pass through.
func translate(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return monitor.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation, codeForeignKeyViolation:
			return fmt.Errorf("%w (%s)", monitor.ErrConflict, pgErr.ConstraintName)
		}
	}
	return err
}

// IsUnavailable reports whether err means that PostgreSQL could not be reached or that the
// connection broke under a query (refused, reset, timed out, shutting down), rather than that
// it refused the query. Callers answer it as "try again shortly" (the API's 503) instead of as
// an internal error.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection exception) and 57P01..57P03 (the server is shutting down or
		// starting up).
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	// pgx reports a connection it already closed as a plain error.
	return strings.Contains(err.Error(), "conn closed")
}

// validID reports whether id can name a row. Ids that are not UUIDs name nothing, so the
// stores answer monitor.ErrNotFound for them instead of sending PostgreSQL a cast it refuses.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
