package postgres

import (
	"errors"
	"fmt"

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

// validID reports whether id can name a row. Ids that are not UUIDs name nothing, so the
// stores answer monitor.ErrNotFound for them instead of sending PostgreSQL a cast it refuses.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
