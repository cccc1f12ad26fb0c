package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// testAPI is an API on its own schema, served over real HTTP, with one valid key.
type testAPI struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	pool   *pgxpool.Pool
	key    string
	client *http.Client
}

func newTestAPI(t *testing.T, mutate ...func(*Params)) *testAPI {
	t.Helper()
	pool := pgtest.Pool(t)
	p := Params{Pool: pool, Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mutate {
		m(&p)
	}
	srv, err := New(p)
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	_, key, err := postgres.NewAPIKeyStore(pool).Create(context.Background(), "test")
	require.NoError(t, err)
	return &testAPI{t: t, srv: srv, http: hs, pool: pool, key: key, client: hs.Client()}
}

// response is an answer with its body decoded loosely.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Raw, &m), "body: %s", r.Raw)
	return m
}

// Err returns the error body's code and fields.
func (r response) Err(t *testing.T) (code string, fields map[string]string) {
	t.Helper()
	var body errorBody
	require.NoError(t, json.Unmarshal(r.Raw, &body), "body: %s", r.Raw)
	require.NotEmpty(t, body.Error.Code, "body: %s", r.Raw)
	require.NotEmpty(t, body.Error.Message)
	return body.Error.Code, body.Error.Fields
}

// do sends a request with the test key.
func (a *testAPI) do(method, path, body string) response {
	return a.doKey(method, path, body, a.key)
}

func (a *testAPI) doKey(method, path, body, key string) response {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.http.URL+path, r)
	require.NoError(a.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := a.client.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
}

// mustCreate posts body to path and returns the created resource's id.
func (a *testAPI) mustCreate(path, body string) string {
	a.t.Helper()
	r := a.do(http.MethodPost, path, body)
	require.Equal(a.t, http.StatusCreated, r.Status, "POST %s %s: %s", path, body, r.Raw)
	id, _ := r.JSON(a.t)["id"].(string)
	require.NotEmpty(a.t, id)
	return id
}

// snapshot fingerprints every row the API writes, to prove a refused request changed nothing.
func (a *testAPI) snapshot() string {
	a.t.Helper()
	var s string
	err := a.pool.QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(w::text, '|' ORDER BY id) FROM websites w), '') || '#' ||
		coalesce((SELECT string_agg(r::text, '|' ORDER BY id) FROM regions r), '') || '#' ||
		coalesce((SELECT string_agg(x::text, '|' ORDER BY website_id, region_id) FROM website_regions x), '')`).Scan(&s)
	require.NoError(a.t, err)
	return s
}

func escape(s string) string { return url.QueryEscape(s) }

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// spec is openapi.yaml as kin-openapi reads it, with a router over its operations. It is
// loaded once per test binary and only read after that.
var spec = sync.OnceValues(func() (*specRouter, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		return nil, err
	}
	// The description names a server the tests do not run on; route on paths alone.
	routed := *doc
	routed.Servers = nil
	r, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, err
	}
	// The dashboard's pages are HTML: their body is checked as the string the spec says.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	return &specRouter{doc: doc, router: r}, nil
})

type specRouter struct {
	doc    *openapi3.T
	router routers.Router
}
