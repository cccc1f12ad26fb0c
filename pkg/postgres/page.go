package postgres

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cursor is a position in a list ordered by (created_at, id): the last row of the previous
// page. The order is stable because id breaks ties between rows created in the same instant.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ListParams selects one page of a list.
type ListParams struct {
	// Limit is the page size; the caller bounds it. Zero or less reads 50.
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

// createdList is a list in creation order, read a page at a time after a (created_at, id)
// cursor, whose ?q= keeps the rows where one of the match columns contains it. A newest-first
// list (incidents, notifications) reads the same way backwards in time, after its own filter.
type createdList[T any] struct {
	what  string   // the list, in errors: "websites"
	from  string   // SELECT <columns> FROM <table> [alias]
	alias string   // the alias and its dot ("w."), or "" for none
	match []string // the columns ?q= searches; none ignores ?q=
	scan  func(pgx.Row) (T, error)
	key   func(T) Cursor

	args   []any    // the arguments from and where use, $1 on
	where  []string // conditions on args that every row meets
	at     string   // the time column the cursor holds; created_at when ""
	newest bool     // newest first: the pages run backwards in time
}

// page reads the page p asks for, and the cursor of the next one (nil at the end).
func (l createdList[T]) page(ctx context.Context, q querier, p ListParams) ([]T, *Cursor, error) {
	sql, args := l.from+` WHERE true`, append([]any{}, l.args...)
	for _, cond := range l.where {
		sql += ` AND ` + cond
	}
	at, after, order := cmp.Or(l.at, "created_at"), ">", ""
	if l.newest {
		after, order = "<", " DESC"
	}
	if p.After != nil {
		args = append(args, p.After.CreatedAt, p.After.ID)
		sql += fmt.Sprintf(` AND (%[1]s%[2]s, %[1]sid) %[3]s ($%[4]d, $%[5]d)`, l.alias, at, after, len(args)-1, len(args))
	}
	if p.Query != "" && len(l.match) > 0 {
		args = append(args, likePattern(p.Query))
		conds := make([]string, len(l.match))
		for i, col := range l.match {
			conds[i] = fmt.Sprintf(`%s%s ILIKE $%d`, l.alias, col, len(args))
		}
		sql += ` AND (` + strings.Join(conds, ` OR `) + `)`
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit+1)
	sql += fmt.Sprintf(` ORDER BY %[1]s%[2]s%[3]s, %[1]sid%[3]s LIMIT $%[4]d`, l.alias, at, order, len(args))
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: list %s: %w", l.what, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return l.scan(row) })
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: list %s: %w", l.what, err)
	}
	items, next := nextCursor(items, limit, l.key)
	return items, next, nil
}

// collectStrings runs a query of one text column and returns its values.
func collectStrings(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
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
