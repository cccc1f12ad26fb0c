package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadInput sends malformed and hostile payloads: each gets a 4xx JSON error with the
// expected code and field, and the database is unchanged.
func TestBadInput(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	a.mustCreate("/regions", `{"name":"europe"}`)
	site := a.mustCreate("/websites", `{"name":"ok","url":"https://example.com","regions":["europe"]}`)
	region := a.mustCreate("/regions", `{"name":"asia"}`)
	before := a.snapshot()

	huge := `{"name":"` + strings.Repeat("a", 2<<20) + `","url":"https://example.com"}`
	long := strings.Repeat("n", 10000)

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		field  string // "" when the error names no field
	}{
		{"empty body", "POST", "/websites", " ", 400, CodeMalformedJSON, ""},
		{"malformed", "POST", "/websites", `{"name": "x",`, 400, CodeMalformedJSON, ""},
		{"syntax", "POST", "/websites", `{"name" "x"}`, 400, CodeMalformedJSON, ""},
		{"not an object", "POST", "/websites", `["x"]`, 400, CodeMalformedJSON, ""},
		{"null body", "POST", "/websites", `null`, 400, CodeMalformedJSON, ""},
		{"null body on PATCH", "PATCH", "/websites/" + site, `null`, 400, CodeMalformedJSON, ""},
		{"string body", "POST", "/regions", `"europe"`, 400, CodeMalformedJSON, ""},
		{"two objects", "POST", "/websites", `{"name":"a","url":"https://a.example"}{}`, 400, CodeMalformedJSON, ""},
		{"unknown field", "POST", "/websites", `{"name":"a","url":"https://a.example","evil":1}`, 400, CodeUnknownField, "evil"},
		{"known field in the wrong case", "POST", "/websites", `{"NAME":"a","url":"https://a.example"}`, 400, CodeUnknownField, "NAME"},
		{"read-only field", "POST", "/websites", `{"id":"x","name":"a","url":"https://a.example"}`, 400, CodeUnknownField, "id"},
		{"string for int", "POST", "/websites", `{"name":"a","url":"https://a.example","interval_seconds":"60"}`, 400, CodeWrongType, "interval_seconds"},
		{"float for int", "POST", "/websites", `{"name":"a","url":"https://a.example","timeout_ms":1.5}`, 400, CodeWrongType, "timeout_ms"},
		{"huge int", "POST", "/websites", `{"name":"a","url":"https://a.example","quorum":1e30}`, 400, CodeWrongType, "quorum"},
		{"int for string", "POST", "/websites", `{"name":5,"url":"https://a.example"}`, 400, CodeWrongType, "name"},
		{"string for bool", "POST", "/websites", `{"name":"a","url":"https://a.example","enabled":"yes"}`, 400, CodeWrongType, "enabled"},
		{"string for array", "POST", "/websites", `{"name":"a","url":"https://a.example","regions":"europe"}`, 400, CodeWrongType, "regions"},
		{"number header value", "POST", "/websites", `{"name":"a","url":"https://a.example","headers":{"X-A":1}}`, 400, CodeWrongType, "headers"},
		{"2 MiB body", "POST", "/websites", huge, 413, CodeBodyTooLarge, ""},
		{"missing url", "POST", "/websites", `{"name":"a"}`, 422, CodeValidationFailed, "url"},
		{"missing name", "POST", "/websites", `{"url":"https://a.example"}`, 422, CodeValidationFailed, "name"},
		{"null name", "POST", "/websites", `{"name":null,"url":"https://a.example"}`, 422, CodeValidationFailed, "name"},
		{"blank name", "POST", "/websites", `{"name":"   ","url":"https://a.example"}`, 422, CodeValidationFailed, "name"},
		{"10,000-char name", "POST", "/websites", `{"name":"` + long + `","url":"https://a.example"}`, 422, CodeValidationFailed, "name"},
		{"NUL in name", "POST", "/websites", `{"name":"a\u0000b","url":"https://a.example"}`, 422, CodeValidationFailed, "name"},
		{"javascript: URL", "POST", "/websites", `{"name":"a","url":"javascript:alert(1)"}`, 422, CodeValidationFailed, "url"},
		{"file:// URL", "POST", "/websites", `{"name":"a","url":"file:///etc/passwd"}`, 422, CodeValidationFailed, "url"},
		{"ftp URL", "POST", "/websites", `{"name":"a","url":"ftp://a.example/"}`, 422, CodeValidationFailed, "url"},
		{"data URL", "POST", "/websites", `{"name":"a","url":"data:text/html,hi"}`, 422, CodeValidationFailed, "url"},
		{"relative URL", "POST", "/websites", `{"name":"a","url":"/path"}`, 422, CodeValidationFailed, "url"},
		{"scheme-relative URL", "POST", "/websites", `{"name":"a","url":"//a.example/"}`, 422, CodeValidationFailed, "url"},
		{"no host", "POST", "/websites", `{"name":"a","url":"http:///path"}`, 422, CodeValidationFailed, "url"},
		{"credentials", "POST", "/websites", `{"name":"a","url":"https://user:pw@a.example/"}`, 422, CodeValidationFailed, "url"},
		{"bad port", "POST", "/websites", `{"name":"a","url":"https://a.example:70000/"}`, 422, CodeValidationFailed, "url"},
		{"space in URL", "POST", "/websites", `{"name":"a","url":"https://a.example/ x"}`, 422, CodeValidationFailed, "url"},
		{"CRLF in URL", "POST", "/websites", `{"name":"a","url":"https://a.example/\r\nX: y"}`, 422, CodeValidationFailed, "url"},
		{"bad method", "POST", "/websites", `{"name":"a","url":"https://a.example","method":"TRACE"}`, 422, CodeValidationFailed, "method"},
		{"CRLF in header value", "POST", "/websites", `{"name":"a","url":"https://a.example","headers":{"X-A":"1\r\nHost: evil"}}`, 422, CodeValidationFailed, "headers"},
		{"CRLF in header name", "POST", "/websites", `{"name":"a","url":"https://a.example","headers":{"X-A\r\nB":"1"}}`, 422, CodeValidationFailed, "headers"},
		{"hop-by-hop header", "POST", "/websites", `{"name":"a","url":"https://a.example","headers":{"transfer-encoding":"chunked"}}`, 422, CodeValidationFailed, "headers"},
		{"Host header", "POST", "/websites", `{"name":"a","url":"https://a.example","headers":{"Host":"evil"}}`, 422, CodeValidationFailed, "headers"},
		{"Proxy header", "POST", "/websites", `{"name":"a","url":"https://a.example","headers":{"Proxy-Foo":"x"}}`, 422, CodeValidationFailed, "headers"},
		{"interval too short", "POST", "/websites", `{"name":"a","url":"https://a.example","interval_seconds":9}`, 422, CodeValidationFailed, "interval_seconds"},
		{"interval too long", "POST", "/websites", `{"name":"a","url":"https://a.example","interval_seconds":86401}`, 422, CodeValidationFailed, "interval_seconds"},
		{"timeout zero", "POST", "/websites", `{"name":"a","url":"https://a.example","timeout_ms":0}`, 422, CodeValidationFailed, "timeout_ms"},
		{"timeout above max", "POST", "/websites", `{"name":"a","url":"https://a.example","timeout_ms":60001,"interval_seconds":600}`, 422, CodeValidationFailed, "timeout_ms"},
		{"timeout not below interval", "POST", "/websites", `{"name":"a","url":"https://a.example","timeout_ms":10000,"interval_seconds":10}`, 422, CodeValidationFailed, "timeout_ms"},
		{"expected status", "POST", "/websites", `{"name":"a","url":"https://a.example","expected_status":"2xx"}`, 422, CodeValidationFailed, "expected_status"},
		{"unknown region", "POST", "/websites", `{"name":"a","url":"https://a.example","regions":["mars"]}`, 422, CodeValidationFailed, "regions"},
		{"region with SQL", "POST", "/websites", `{"name":"a","url":"https://a.example","regions":["x'; DROP TABLE regions; --"]}`, 422, CodeValidationFailed, "regions"},
		{"bad email", "POST", "/websites", `{"name":"a","url":"https://a.example","alert_emails":["not-an-email"]}`, 422, CodeValidationFailed, "alert_emails"},
		{"email with a name", "POST", "/websites", `{"name":"a","url":"https://a.example","alert_emails":["Ops <ops@example.com>"]}`, 422, CodeValidationFailed, "alert_emails"},
		{"email header injection", "POST", "/websites", `{"name":"a","url":"https://a.example","alert_emails":["a@example.com\r\nBcc: b@example.com"]}`, 422, CodeValidationFailed, "alert_emails"},
		{"webhook scheme", "POST", "/websites", `{"name":"a","url":"https://a.example","webhooks":["gopher://a.example"]}`, 422, CodeValidationFailed, "webhooks"},
		{"confirmations_down 0", "POST", "/websites", `{"name":"a","url":"https://a.example","confirmations_down":0}`, 422, CodeValidationFailed, "confirmations_down"},
		{"confirmations_up 11", "POST", "/websites", `{"name":"a","url":"https://a.example","confirmations_up":11}`, 422, CodeValidationFailed, "confirmations_up"},
		{"retry interval", "POST", "/websites", `{"name":"a","url":"https://a.example","retry_interval_seconds":3601}`, 422, CodeValidationFailed, "retry_interval_seconds"},
		{"negative quorum", "POST", "/websites", `{"name":"a","url":"https://a.example","quorum":-1}`, 422, CodeValidationFailed, "quorum"},
		{"quorum above regions", "POST", "/websites", `{"name":"a","url":"https://a.example","regions":["europe"],"quorum":2}`, 422, CodeValidationFailed, "quorum"},
		{"huge quorum", "POST", "/websites", `{"name":"a","url":"https://a.example","quorum":9999999999}`, 422, CodeValidationFailed, "quorum"},

		{"patch unknown field", "PATCH", "/websites/" + site, `{"nam":"x"}`, 400, CodeUnknownField, "nam"},
		{"patch javascript URL", "PATCH", "/websites/" + site, `{"url":"javascript:alert(1)"}`, 422, CodeValidationFailed, "url"},
		{"patch null url", "PATCH", "/websites/" + site, `{"url":null}`, 422, CodeValidationFailed, "url"},
		{"patch timeout above new interval", "PATCH", "/websites/" + site, `{"interval_seconds":10}`, 422, CodeValidationFailed, "timeout_ms"},
		{"patch 2 MiB", "PATCH", "/websites/" + site, huge, 413, CodeBodyTooLarge, ""},
		{"patch missing website", "PATCH", "/websites/00000000-0000-0000-0000-000000000000", `{"name":"x"}`, 404, CodeNotFound, ""},
		{"get not a uuid", "GET", "/websites/'%20OR%201=1", "", 404, CodeNotFound, ""},
		{"delete missing website", "DELETE", "/websites/00000000-0000-0000-0000-000000000000", "", 404, CodeNotFound, ""},

		{"region name uppercase", "POST", "/regions", `{"name":"Europe"}`, 422, CodeValidationFailed, "name"},
		{"region name SQL", "POST", "/regions", `{"name":"x'; DROP TABLE regions; --"}`, 422, CodeValidationFailed, "name"},
		{"region name missing", "POST", "/regions", `{}`, 422, CodeValidationFailed, "name"},
		{"region name too long", "POST", "/regions", `{"name":"` + strings.Repeat("a", 64) + `"}`, 422, CodeValidationFailed, "name"},
		{"region name wrong type", "POST", "/regions", `{"name":["a"]}`, 400, CodeWrongType, "name"},
		{"region duplicate", "POST", "/regions", `{"name":"europe"}`, 409, CodeConflict, "name"},
		{"region rename duplicate", "PATCH", "/regions/" + region, `{"name":"europe"}`, 409, CodeConflict, "name"},
		{"region unknown field", "POST", "/regions", `{"name":"x","id":"y"}`, 400, CodeUnknownField, "id"},
		{"region 2 MiB", "POST", "/regions", huge, 413, CodeBodyTooLarge, ""},
		{"region delete force bad", "DELETE", "/regions/" + region + "?force=maybe", "", 422, CodeValidationFailed, "force"},

		{"limit zero", "GET", "/websites?limit=0", "", 422, CodeValidationFailed, "limit"},
		{"limit over max", "GET", "/websites?limit=501", "", 422, CodeValidationFailed, "limit"},
		{"limit not a number", "GET", "/regions?limit=ten", "", 422, CodeValidationFailed, "limit"},
		{"bad cursor", "GET", "/websites?cursor=bm9wZQ", "", 422, CodeValidationFailed, "cursor"},
		{"q too long", "GET", "/websites?q=" + strings.Repeat("q", 201), "", 422, CodeValidationFailed, "q"},
		{"no such route", "GET", "/nope", "", 404, CodeNotFound, ""},
		{"wrong method", "PUT", "/websites", `{}`, 405, CodeMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.method, tt.path, tt.body)
			require.Equal(t, tt.status, r.Status, "body: %s", r.Raw)
			require.Contains(t, r.Header.Get("Content-Type"), "application/json")
			code, fields := r.Err(t)
			require.Equal(t, tt.code, code, "body: %s", r.Raw)
			if tt.field != "" {
				require.Contains(t, fields, tt.field, "body: %s", r.Raw)
			}
			require.NotContains(t, string(r.Raw), "goroutine", "no stack trace")
			require.Less(t, len(r.Raw), 2048, "errors stay short: %s", r.Raw)
		})
	}
	require.Equal(t, before, a.snapshot(), "refused requests change nothing")
}

func TestValidationErrorShape(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	r := a.do("POST", "/websites", `{"name":"a","url":"javascript:alert(1)"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	require.JSONEq(t, `{"error":{"code":"validation_failed","message":"url: must be an absolute http or https URL","fields":{"url":"must be an absolute http or https URL"}}}`, string(r.Raw))

	// Several problems are reported together, in a stable order.
	r = a.do("POST", "/websites", `{"name":"","url":"file:///x","interval_seconds":1}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	_, fields := r.Err(t)
	require.Len(t, fields, 3)
	require.True(t, strings.HasPrefix(r.JSON(t)["error"].(map[string]any)["message"].(string), "interval_seconds: "))
}

// TestSQLMetacharacters stores hostile but valid strings verbatim: they are data, not SQL.
func TestSQLMetacharacters(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	names := []string{
		`Robert'); DROP TABLE websites;--`,
		`" OR 1=1 --`,
		`\x00\'; SELECT pg_sleep(10); --`,
		`100% _legit_ $1 $$ ;`,
		`<script>alert(1)</script>`,
	}
	for _, name := range names {
		body, err := jsonString(map[string]any{"name": name, "url": "https://example.com/?q='--", "keyword": name})
		require.NoError(t, err)
		id := a.mustCreate("/websites", body)
		r := a.do("GET", "/websites/"+id, "")
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, name, r.JSON(t)["name"])
		require.Equal(t, name, r.JSON(t)["keyword"])
	}
	r := a.do("GET", "/websites?q="+escape(`'); DROP`), "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Len(t, r.JSON(t)["items"], 1)
	r = a.do("GET", "/websites?q="+escape(`%`), "")
	require.Len(t, r.JSON(t)["items"], 1, "%% is a literal, not a wildcard")
	r = a.do("GET", "/websites", "")
	require.Len(t, r.JSON(t)["items"], len(names))
}

// TestCheckTarget shows that the injected SSRF check answers 422 on the field.
func TestCheckTarget(t *testing.T) {
	t.Parallel()
	refuse := errors.New("probe: 10.1.2.3 is private: target address is not allowed")
	a := newTestAPI(t, func(p *Params) {
		p.CheckTarget = func(u *url.URL) error {
			if strings.HasPrefix(u.Hostname(), "10.") {
				return refuse
			}
			return nil
		}
	})
	before := a.snapshot()
	r := a.do("POST", "/websites", `{"name":"a","url":"http://10.1.2.3/"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	_, fields := r.Err(t)
	require.Equal(t, "target is not allowed: 10.1.2.3 is private: target address is not allowed", fields["url"])
	r = a.do("POST", "/websites", `{"name":"a","url":"https://example.com","webhooks":["http://10.0.0.1/hook"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	_, fields = r.Err(t)
	require.Contains(t, fields, "webhooks")
	require.Equal(t, before, a.snapshot())
	a.mustCreate("/websites", `{"name":"a","url":"http://192.0.2.1/"}`)
}
