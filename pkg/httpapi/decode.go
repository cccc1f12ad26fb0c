package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// MaxBodyBytes bounds every request body (middleware.BodyLimit answers 413 beyond it).
const MaxBodyBytes = 1 << 20

// presence tells which top-level fields a JSON object carried, so that PATCH can tell "leave
// alone" (absent) from "reset to the default" (null, which the pointer fields show).
type presence map[string]json.RawMessage

func (p presence) has(field string) bool { _, ok := p[field]; return ok }

// decodeJSON reads the body into dst (a pointer to a struct with json tags). It refuses
// malformed JSON, a body that is not one object, unknown fields (including a known name in the
// wrong case, which encoding/json would otherwise accept) and wrong types, each with a 400 that
// names the field. A body over MaxBodyBytes is a 413.
func decodeJSON(c echo.Context, dst any) (presence, error) {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
			return nil, errBodyTooLarge
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "could not read the request body"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, malformed("request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bytes silently; say so instead.
		return nil, malformed(fmt.Sprintf("request body is not valid UTF-8 (byte %d)", invalidUTF8At(body)))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("unexpected data after the JSON object")
	}
	var present presence
	if err := json.Unmarshal(body, &present); err != nil || present == nil {
		return nil, malformed("request body must be a JSON object")
	}
	if field := nulField(reflect.ValueOf(dst), ""); field != "" {
		return nil, invalidField(field, "must not contain NUL characters")
	}
	known := jsonFields(reflect.TypeOf(dst))
	for name := range present {
		if !known[name] {
			return nil, fieldError(http.StatusBadRequest, CodeUnknownField, map[string]string{truncate(name): "unknown field"})
		}
	}
	return present, nil
}

func malformed(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: msg}
}

// decodeError turns encoding/json's errors into answers that name the field.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return malformed(fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("malformed JSON: the body ends too early")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return malformed("request body must be a JSON object")
		}
		return fieldError(http.StatusBadRequest, CodeWrongType, map[string]string{typ.Field: "must be " + jsonTypeName(typ.Type)})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return fieldError(http.StatusBadRequest, CodeUnknownField, map[string]string{truncate(name): "unknown field"})
	}
	return malformed("malformed JSON")
}

// jsonDescriber is a type that accepts more than one JSON form and says so in a 400.
type jsonDescriber interface{ jsonDescription() string }

// jsonTypeName names a Go type the way a JSON client thinks of it.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if d, ok := reflect.Zero(t).Interface().(jsonDescriber); ok {
		return d.jsonDescription()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if d, ok := reflect.Zero(t.Elem()).Interface().(jsonDescriber); ok {
			return "an array, each item " + d.jsonDescription()
		}
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonTypeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		if t.Kind() == reflect.Map && t.Elem().Kind() == reflect.String {
			return "an object of strings"
		}
		return "an object"
	}
	return "of another type"
}

// jsonFields lists the JSON names of a struct's fields.
func jsonFields(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	for i := range t.NumField() {
		if name, ok := jsonName(t.Field(i)); ok {
			out[name] = true
		}
	}
	return out
}

// jsonName is the name encoding/json gives a struct field; ok is false for a field it skips.
func jsonName(f reflect.StructField) (name string, ok bool) {
	name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return "", false
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}

// invalidUTF8At returns the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// truncate keeps an echoed client value short and printable.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
