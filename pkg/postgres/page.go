package postgres

import (
	"strings"
	"time"
)

// Cursor is a position in a list ordered by (created_at, id): the last row of the previous
// page. The order is stable because id breaks ties between rows created in the same instant.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ListParams selects one page of a list.
type ListParams struct {
	// Limit is the page size; the caller bounds it.
	Limit int
	// After, when set, starts the page after this row.
	After *Cursor
	// Query, when set, keeps rows whose name (or, for websites, URL) contains it, ignoring case.
	Query string
}

// likePattern turns a user's substring into an ILIKE pattern that matches it literally:
// % and _ in the input are not wildcards.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// nextCursor returns the cursor after the last of rows if the query found more than limit rows
// (it asks for limit+1), and trims rows to limit.
func nextCursor[T any](rows []T, limit int, key func(T) Cursor) ([]T, *Cursor) {
	if len(rows) <= limit {
		return rows, nil
	}
	rows = rows[:limit]
	c := key(rows[len(rows)-1])
	return rows, &c
}
