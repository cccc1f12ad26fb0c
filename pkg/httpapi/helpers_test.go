package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	p := Params{DB: postgres.NewDB(pool), Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mutate {
		m(&p)
	}
	srv, err := New(p)
	require.NoError(t, err)
	hs := httptest.NewServer(conformsToSpec(t, srv.Handler()))
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

// unchecked are the requests whose answers conformsToSpec does not validate, each with why.
// Everything else a test sends through newTestAPI is checked.
var unchecked = []struct{ method, path, why string }{
	{http.MethodGet, "/panic", "TestRecoverAnswersGeneric500 adds this route to echo to provoke a panic; it is not an API route"},
}

// unrouted are the answers to requests that no operation of the spec matches, by why they
// match none; each is the error body. OpenAPI cannot declare them on an operation, so
// openapi.yaml's introduction does. 413 and 429 are answered before routing.
var unrouted = []struct {
	err      error
	statuses []int
}{
	{routers.ErrPathNotFound, []int{http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests}},
	{routers.ErrMethodNotAllowed, []int{http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests}},
}

// conformsToSpec serves h and fails t when an answer is not one that openapi.yaml describes for
// its request: a status the operation does not declare, a body or header that does not match
// the declared schema, an unknown route answering anything but the error body with 404/405, or
// a request that the spec refuses answered with a success. It keeps every answer until it is
// checked, so the check ends before the client sees the response.
func conformsToSpec(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	s, err := spec()
	require.NoError(t, err)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in := s.route(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if err := s.check(r, in, rec); err != nil {
			t.Errorf("contract: %s %s answered %d: %v\nbody: %.300s", r.Method, in.Route.Path, rec.Code, err, rec.Body.Bytes())
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		if _, err := w.Write(rec.Body.Bytes()); err != nil {
			t.Logf("contract: write answer: %v", err)
		}
	})
}

// badTextRequest reports whether r carries a query parameter or a path that is not
// UTF-8 or holds a NUL: the requests that checkText refuses wherever they are sent.
func badTextRequest(r *http.Request) bool {
	if !goodText(r.URL.Path) {
		return true
	}
	for _, vs := range r.URL.Query() {
		for _, v := range vs {
			if !goodText(v) {
				return true
			}
		}
	}
	return false
}

// checkedRequest is a request with the operation it matched and what the spec says of it.
type checkedRequest struct {
	*openapi3filter.RequestValidationInput
	// refused is why the spec refuses the request (a parameter or body out of its schema), or nil.
	refused error
	skip    string
}

// route finds r's operation. A request that matches none gets an operation made of the answers
// that unrouted allows, so that it is checked the same way.
func (s *specRouter) route(r *http.Request, body []byte) checkedRequest {
	for _, u := range unchecked {
		if r.Method == u.method && r.URL.Path == u.path {
			return checkedRequest{RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: r, Route: &routers.Route{Path: r.URL.Path}}, skip: u.why}
		}
	}
	find := r
	if strings.HasPrefix(r.URL.Path, "/static/") {
		// echo's wildcard, which the spec names as the literal path /static/*.
		find = r.Clone(r.Context())
		find.URL.Path, find.URL.RawPath = "/static/*", ""
	}
	route, params, err := s.router.FindRoute(find)
	if err != nil {
		op := openapi3.NewOperation()
		for _, u := range unrouted {
			if errors.Is(err, u.err) {
				for _, status := range u.statuses {
					op.AddResponse(status, openapi3.NewResponse().WithDescription("error").
						WithJSONSchemaRef(s.doc.Components.Schemas["Error"]))
				}
			}
		}
		route = &routers.Route{Spec: s.doc, Path: "(no operation: " + err.Error() + ")", Method: r.Method, Operation: op}
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	c := checkedRequest{RequestValidationInput: in}
	if err == nil {
		clone := r.Clone(r.Context())
		clone.Body = io.NopCloser(bytes.NewReader(body))
		c.refused = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request: clone, PathParams: params, Route: route, Options: in.Options})
	}
	return c
}

// check returns what is wrong with rec as the answer to in, or nil.
func (s *specRouter) check(r *http.Request, in checkedRequest, rec *httptest.ResponseRecorder) error {
	if in.skip != "" {
		return nil
	}
	if in.Route.Operation.Responses.Status(rec.Code) == nil {
		if badTextRequest(r) && (rec.Code == http.StatusBadRequest || rec.Code == http.StatusNotFound) {
			// Answered by checkText before any handler, on every route; openapi.yaml's
			// introduction describes it, as it does 404 and 405.
			return nil
		}
		return errors.New("the spec declares no such status here")
	}
	if in.refused != nil && rec.Code < 400 {
		return fmt.Errorf("the spec refuses this request (%w) but it succeeded", in.refused)
	}
	return openapi3filter.ValidateResponse(r.Context(), (&openapi3filter.ResponseValidationInput{
		RequestValidationInput: in.RequestValidationInput,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}},
	}).SetBodyBytes(rec.Body.Bytes()))
}
