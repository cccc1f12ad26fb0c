package httpapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// Error codes of the JSON error body. Clients switch on the code; the message is for people.
const (
	CodeMalformedJSON    = "malformed_json"
	CodeUnknownField     = "unknown_field"
	CodeWrongType        = "wrong_type"
	CodeValidationFailed = "validation_failed"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeBodyTooLarge     = "body_too_large"
	CodeBadRequest       = "bad_request"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
)

// Error is an error with its HTTP answer. Handlers return one when they know the status and
// the message a client should see; anything else is mapped by errorResponse.
type Error struct {
	Status  int
	Code    string
	Message string
	// Fields names the request fields at fault, with what is wrong with each.
	Fields map[string]string
}

func (e *Error) Error() string { return e.Message }

// errorBody is the JSON shape of every error: {"error":{"code":...,"message":...,"fields":{...}}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// fieldErrors collects what is wrong with a request, field by field, so that a client learns
// every problem at once.
type fieldErrors map[string]string

// add records the first problem of a field.
func (f fieldErrors) add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// err returns a 422 naming every field, or nil.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return invalid(f)
}

func invalid(fields map[string]string) *Error {
	return fieldError(http.StatusUnprocessableEntity, CodeValidationFailed, fields)
}

func invalidField(field, msg string) *Error {
	return invalid(map[string]string{field: msg})
}

// fieldError builds an error whose message lists the fields in a stable order, as
// "url: must be an absolute http or https URL".
func fieldError(status int, code string, fields map[string]string) *Error {
	parts := make([]string, 0, len(fields))
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		parts = append(parts, name+": "+fields[name])
	}
	return &Error{Status: status, Code: code, Message: strings.Join(parts, "; "), Fields: fields}
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "a valid API key is required (Authorization: Bearer <key>)"}
	errInternal     = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal server error"}
	errNotFound     = &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "not found"}
	errBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge, Message: "request body is larger than 1 MiB"}
	// errDatabaseDown answers requests while PostgreSQL cannot be reached: the request may
	// succeed if retried, which a 500 would not say.
	errDatabaseDown = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the database is unavailable; retry shortly"}
)

// errorResponse maps any error to its answer. Domain errors come first, then echo's own
// (routing, body limit); whatever is left is a 500 whose cause is logged but never shown.
func errorResponse(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var fe *postgres.FieldError
	if errors.As(err, &fe) {
		return invalidField(fe.Field, fe.Message)
	}
	switch {
	case errors.Is(err, monitor.ErrNotFound):
		return errNotFound
	case errors.Is(err, monitor.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "conflicts with the current state; reload and retry"}
	}
	if postgres.IsUnavailable(err) && !errors.Is(err, context.Canceled) {
		return errDatabaseDown
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return &Error{Status: he.Code, Code: CodeNotFound, Message: "no such route"}
		case http.StatusMethodNotAllowed:
			return &Error{Status: he.Code, Code: CodeMethodNotAllowed, Message: "method not allowed on this route"}
		case http.StatusRequestEntityTooLarge:
			return errBodyTooLarge
		case http.StatusUnauthorized:
			return errUnauthorized
		}
		if he.Code >= 400 && he.Code < 500 {
			return &Error{Status: he.Code, Code: CodeBadRequest, Message: strings.ToLower(http.StatusText(he.Code))}
		}
	}
	return errInternal
}

// handleError is echo's HTTPErrorHandler: the one place where errors become responses.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	resp := errorResponse(err)
	if resp.Status >= 500 {
		level := s.log.Error
		if errors.Is(err, context.Canceled) {
			level = s.log.Debug // the client went away
		}
		level("httpapi: request failed", "method", c.Request().Method, "route", c.Path(), "err", err)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(resp.Status)
	} else {
		werr = c.JSON(resp.Status, errorBody{Error: errorDetail{Code: resp.Code, Message: resp.Message, Fields: resp.Fields}})
	}
	if werr != nil {
		s.log.Debug("httpapi: write error response", "err", werr)
	}
}
