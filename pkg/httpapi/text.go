package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// badTextRule is what every text value the API reads must be. PostgreSQL refuses both invalid
// UTF-8 and NUL in text, so a value breaking the rule could only fail later, as a 500.
const badTextRule = "must be valid UTF-8 without NUL characters"

// goodText reports whether s follows badTextRule.
func goodText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// checkText is the edge check of every route, run after routing (and after the API-key
// check, so that a stranger learns nothing): each query parameter, each field of a
// URL-encoded form and each path parameter must follow badTextRule, whatever the handler
// does with it. A bad query or form value is a 400 naming it. A bad path parameter is a 400
// as well, or a 404 on a public route (pathStatus), where it names a page that cannot
// exist. JSON bodies are checked where they are decoded (decodeJSON). Forms are read only
// where forms are posted (forms: the dashboard's pages and login): the REST API's bodies are
// JSON whatever their Content-Type says (curl -d sends a form type), and reading one as a form
// would consume it.
func checkText(pathStatus int, forms bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := badQueryOrForm(c, forms); err != nil {
				return err
			}
			for i, name := range c.ParamNames() {
				if i < len(c.ParamValues()) && !goodText(decodedParam(c, c.ParamValues()[i])) {
					if name == "*" {
						name = "path"
					}
					code := CodeValidationFailed
					if pathStatus == http.StatusNotFound {
						code = CodeNotFound
					}
					return fieldError(pathStatus, code, map[string]string{name: badTextRule})
				}
			}
			return next(c)
		}
	}
}

// decodedParam is a path parameter as the client meant it. Echo routes on the escaped path when
// the request's escaping is not Go's own ("%ff" rather than "%FF", or "%2F") and then hands
// the handler the escaped value, which is harmless ASCII; the check judges the decoded value
// either way, so that the answer does not depend on the case of a hex digit.
func decodedParam(c echo.Context, v string) string {
	if c.Request().URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// badQueryOrForm returns a 400 naming the first query parameter or, with forms, form field
// that breaks badTextRule, in name order, or nil. Only URL-encoded forms are read: the
// dashboard's login and logout are the only forms.
func badQueryOrForm(c echo.Context, forms bool) error {
	values := []map[string][]string{c.QueryParams()}
	if forms && strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationForm) {
		form, err := c.FormParams()
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "malformed form body"}
		}
		values = append(values, form)
	}
	for _, v := range values {
		for _, name := range slices.Sorted(maps.Keys(v)) {
			if !goodText(name) {
				return fieldError(http.StatusBadRequest, CodeValidationFailed,
					map[string]string{"query": "parameter names " + badTextRule})
			}
			for _, s := range v[name] {
				if !goodText(s) {
					return fieldError(http.StatusBadRequest, CodeValidationFailed, map[string]string{name: badTextRule})
				}
			}
		}
	}
	return nil
}

// nulField returns the name of the first string in v (a decoded request body) that holds a
// NUL, or "". Names follow the API's other errors, which the dashboard's forms attach to
// their inputs: "name", "groups[0].name" inside a list of objects, and the field itself
// ("headers", "regions") for a string in a map or in a list of strings. encoding/json has
// already replaced invalid UTF-8 in strings, so NUL is the one character left that
// PostgreSQL would refuse.
func nulField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), path)
		}
	case reflect.String:
		if strings.ContainsRune(v.String(), 0) {
			return path
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, ok := jsonName(v.Type().Field(i))
			if !ok {
				continue
			}
			if path != "" {
				name = path + "." + name
			}
			if bad := nulField(v.Field(i), name); bad != "" {
				return bad
			}
		}
	case reflect.Slice, reflect.Array:
		indexed := v.Type().Elem().Kind() == reflect.Struct
		for i := range v.Len() {
			p := path
			if indexed {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if bad := nulField(v.Index(i), p); bad != "" {
				return bad
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if nulField(iter.Key(), path) != "" || nulField(iter.Value(), path) != "" {
				return path
			}
		}
	}
	return ""
}
