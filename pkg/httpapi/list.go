package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// Page sizes of list routes.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// listResponse is the envelope of every list: {"items":[...],"next_cursor":"..."}. next_cursor
// is empty on the last page; otherwise pass it back as ?cursor= for the next one.
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func newListResponse[T any](items []T, next *postgres.Cursor) listResponse[T] {
	if items == nil {
		items = []T{}
	}
	return listResponse[T]{Items: items, NextCursor: encodeCursor(next)}
}

// listFunc fetches one page of a list: its items and the cursor of the next page (nil at the
// end), as the postgres stores' List methods do.
type listFunc[T any] func(context.Context, postgres.ListParams) ([]T, *postgres.Cursor, error)

// listPage answers a list route: it reads the list parameters (422), fetches the page and
// writes the envelope.
func listPage[T any](c echo.Context, list listFunc[T]) error {
	p, err := listParams(c)
	if err != nil {
		return err
	}
	items, next, err := list(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newListResponse(items, next))
}

// getByID answers GET /<collection>/:id with what get finds (404 when nothing).
func getByID[T any](c echo.Context, get func(ctx context.Context, id string) (T, error)) error {
	v, err := get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// created answers 201 with the new resource and its address in Location.
func created(c echo.Context, location string, v any) error {
	c.Response().Header().Set(echo.HeaderLocation, location)
	return c.JSON(http.StatusCreated, v)
}

// listParams reads ?limit=, ?cursor= and ?q=, answering 422 on the one at fault.
func listParams(c echo.Context) (postgres.ListParams, error) {
	f := fieldErrors{}
	p := postgres.ListParams{Limit: defaultLimit}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxLimit {
			f.add("limit", fmt.Sprintf("must be an integer between 1 and %d", maxLimit))
		}
		p.Limit = n
	}
	if raw := c.QueryParam("cursor"); raw != "" {
		cur, err := decodeCursor(raw)
		if err != nil {
			f.add("cursor", "is not a cursor from a previous page")
		}
		p.After = cur
	}
	p.Query = c.QueryParam("q")
	if utf8.RuneCountInString(p.Query) > maxQueryChars {
		f.add("q", fmt.Sprintf("must be at most %d characters", maxQueryChars))
	}
	return p, f.err()
}

// encodeCursor makes a cursor opaque: base64 of "<created_at in unix microseconds>.<id>".
// PostgreSQL keeps microseconds, so the round trip is exact.
func encodeCursor(c *postgres.Cursor) string {
	if c == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%s", c.CreatedAt.UnixMicro(), c.ID))
}

func decodeCursor(s string) (*postgres.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cursor: %w", err)
	}
	ts, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return nil, fmt.Errorf("cursor: no separator")
	}
	micros, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("cursor: time: %w", err)
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return nil, fmt.Errorf("cursor: id %q", id)
	}
	return &postgres.Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: id}, nil
}
