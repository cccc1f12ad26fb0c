package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWebsiteCRUD drives the website routes end to end over HTTP.
func TestWebsiteCRUD(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)

	// The minimal body: every other field takes its default, on all regions.
	a.mustCreate("/regions", `{"name":"europe"}`)
	r := a.do("POST", "/websites", `{"url": "https://google.com", "name": "google"}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
	w := r.JSON(t)
	id := w["id"].(string)
	require.Equal(t, "/websites/"+id, r.Header.Get("Location"))
	for _, field := range []string{"created_at", "updated_at"} {
		require.NotEmpty(t, w[field])
		delete(w, field)
	}
	delete(w, "id")
	require.Equal(t, map[string]any{
		"name": "google", "url": "https://google.com", "method": "GET",
		"headers": map[string]any{}, "body": "", "interval_seconds": 180.0, "timeout_ms": 10000.0,
		"slow_ms": 0.0, "expected_status": "200-399", "keyword": "",
		"regions": []any{"europe"}, "all_regions": true, "enabled": true,
		"alert_emails": []any{}, "webhooks": []any{}, "webhooks_with_secret": []any{}, "confirmations_down": 2.0,
		"confirmations_up": 1.0, "retry_interval_seconds": 20.0, "quorum": 0.0,
		"alert_regional": false,
	}, w)

	// A region added later is followed by all-regions websites.
	a.mustCreate("/regions", `{"name":"asia"}`)
	r = a.do("GET", "/websites/"+id, "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, []any{"asia", "europe"}, r.JSON(t)["regions"])

	// PATCH changes only what is sent.
	r = a.do("PATCH", "/websites/"+id, `{"name":"Google","regions":["europe"],"method":"head",
		"headers":{"X-Check":"vigil"},"expected_status":"200, 301-302","alert_emails":["ops@example.com"],
		"interval_seconds":60,"quorum":1}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	w = r.JSON(t)
	require.Equal(t, "Google", w["name"])
	require.Equal(t, "https://google.com", w["url"], "unsent fields stay")
	require.Equal(t, "HEAD", w["method"], "methods are normalised")
	require.Equal(t, "200,301-302", w["expected_status"], "expected_status is normalised")
	require.Equal(t, []any{"europe"}, w["regions"])
	require.Equal(t, false, w["all_regions"])
	require.Equal(t, 60.0, w["interval_seconds"])
	require.Equal(t, 10000.0, w["timeout_ms"])

	// null resets a field to its default; [] or null regions mean all regions again.
	r = a.do("PATCH", "/websites/"+id, `{"interval_seconds":null,"headers":null,"regions":[],"quorum":null,"enabled":false}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	w = r.JSON(t)
	require.Equal(t, 180.0, w["interval_seconds"])
	require.Equal(t, map[string]any{}, w["headers"])
	require.Equal(t, []any{"asia", "europe"}, w["regions"])
	require.Equal(t, true, w["all_regions"])
	require.Equal(t, false, w["enabled"])
	require.Equal(t, "Google", w["name"])

	r = a.do("PATCH", "/websites/"+id, `{}`)
	require.Equal(t, http.StatusOK, r.Status, "an empty PATCH changes nothing")

	r = a.do("DELETE", "/websites/"+id, "")
	require.Equal(t, http.StatusNoContent, r.Status)
	require.Empty(t, r.Raw)
	r = a.do("GET", "/websites/"+id, "")
	require.Equal(t, http.StatusNotFound, r.Status)
	code, _ := r.Err(t)
	require.Equal(t, CodeNotFound, code)
}

// TestWebsiteList pages through websites with limit and cursor, and filters with q.
func TestWebsiteList(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	r := a.do("GET", "/websites", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, `{"items":[],"next_cursor":""}`, string(r.Raw))

	var ids []string
	for i := range 7 {
		ids = append(ids, a.mustCreate("/websites", fmt.Sprintf(`{"name":"site %d","url":"https://s%d.example.org/"}`, i, i)))
	}
	a.mustCreate("/websites", `{"name":"other","url":"https://other.example.net/"}`)

	var seen []string
	cursor := ""
	for range 10 {
		r := a.do("GET", "/websites?limit=3&cursor="+escape(cursor), "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		page := r.JSON(t)
		items := page["items"].([]any)
		require.LessOrEqual(t, len(items), 3)
		for _, it := range items {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		cursor = page["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	require.Len(t, seen, 8)
	require.Equal(t, ids, seen[:7], "creation order")

	r = a.do("GET", "/websites?q=EXAMPLE.ORG", "")
	require.Len(t, r.JSON(t)["items"], 7, "q matches the URL")
	r = a.do("GET", "/websites?q=othe", "")
	require.Len(t, r.JSON(t)["items"], 1, "q matches the name")
	r = a.do("GET", "/websites?limit=500", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "", r.JSON(t)["next_cursor"])
}

// TestConcurrentPatchesKeepEveryField: PATCHes of different fields of one website, at the same
// time, all land. The store applies each under the row lock, so none reverts another's field
// with the stale value it read.
func TestConcurrentPatchesKeepEveryField(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	id := a.mustCreate("/websites", `{"name":"n","url":"https://n.example"}`)
	const rounds = 15
	var wg sync.WaitGroup
	for _, field := range []string{"name", "keyword", "body"} {
		wg.Go(func() {
			for i := range rounds {
				r := a.do("PATCH", "/websites/"+id, fmt.Sprintf(`{%q:"%s-%d"}`, field, field, i))
				if r.Status != http.StatusOK {
					t.Errorf("PATCH %s: %d %s", field, r.Status, r.Raw)
				}
			}
		})
	}
	wg.Wait()
	w := a.do("GET", "/websites/"+id, "").JSON(t)
	require.Equal(t, fmt.Sprintf("name-%d", rounds-1), w["name"])
	require.Equal(t, fmt.Sprintf("keyword-%d", rounds-1), w["keyword"])
	require.Equal(t, fmt.Sprintf("body-%d", rounds-1), w["body"])
}

// TestChunkedBodyOverLimit: a body without Content-Length is cut at 1 MiB too.
func TestChunkedBodyOverLimit(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	before := a.snapshot()
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 2<<20)),
		strings.NewReader(`","url":"https://a.example"}`))
	req, err := http.NewRequest(http.MethodPost, a.http.URL+"/websites", body)
	require.NoError(t, err)
	req.ContentLength = -1 // chunked
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := a.client.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s", raw)
	code, _ := response{Raw: raw}.Err(t)
	require.Equal(t, CodeBodyTooLarge, code)
	require.Equal(t, before, a.snapshot())
}
