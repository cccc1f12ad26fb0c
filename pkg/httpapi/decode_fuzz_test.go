package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// FuzzRequestBodies sends arbitrary bodies through the real Echo handler to every route that
// decodes JSON, with a valid key: whatever arrives, the API never panics and never answers 5xx,
// and every error is the JSON error body with a code. Seeds: f.Add below and
// testdata/fuzz/FuzzRequestBodies. The cap on websites keeps the schema small however many
// valid bodies the fuzzer finds.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","url":"https://example.com"}`,
		`{"name":"a","url":"https://example.com","headers":{"X-A":"b"},"regions":["eu"],"expected_status":"200-299,301"}`,
		`{"name":"a","url":"https://example.com","interval_seconds":1e400}`,
		`{"name":null,"url":null,"headers":null,"regions":null}`,
		`{"slug":"s","title":"t","groups":[{"name":"g","website_ids":["00000000-0000-0000-0000-000000000000"]}]}`,
		`{"name":"eu"}`, `null`, `[]`, `{}`, `{"a":1}{"b":2}`, `{"NAME":"x"}`, `"str"`, `{"name":"\ud800"}`,
		`{"name":"a","url":"https://example.com","alert_emails":["a@b.c\r\nBcc: x@y.z"]}`,
		`{"interval_seconds":-9223372036854775809}`, `{"headers":{"":""}}`, "\xff\xfe{", `{"regions":[1,2]}`,
	} {
		f.Add(s)
	}
	pool := pgtest.Pool(f)
	srv, err := New(Params{DB: postgres.NewDB(pool), Logger: slog.New(slog.DiscardHandler), MaxWebsites: 50})
	require.NoError(f, err)
	_, key, err := postgres.NewAPIKeyStore(pool).Create(context.Background(), "fuzz")
	require.NoError(f, err)
	h := srv.Handler()
	send := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := send(http.MethodPost, "/websites", `{"name":"target","url":"https://example.com"}`)
	require.Equal(f, http.StatusCreated, rec.Code, rec.Body.String())
	var site struct{ ID string }
	require.NoError(f, json.Unmarshal(rec.Body.Bytes(), &site))
	routes := [][2]string{
		{http.MethodPost, "/websites"}, {http.MethodPatch, "/websites/" + site.ID},
		{http.MethodPost, "/regions"}, {http.MethodPost, "/status-pages"},
	}

	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range routes {
			rec := send(r[0], r[1], body)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", r[0], r[1], body, rec.Code, rec.Body.String())
			}
			if rec.Code >= 400 {
				var e errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Fatalf("%s %s %q: %d with a body that is not the error JSON: %s", r[0], r[1], body, rec.Code, rec.Body.String())
				}
			}
		}
	})
}
