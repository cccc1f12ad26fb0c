package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// spoofingNames look like another name once displayed: control characters, C1 controls that
// terminals read as escapes, bidirectional overrides and isolates, invisible format
// characters and line separators.
var spoofingNames = []string{
	"shop\u202egnp.exe",
	"\u202dshop",
	"shop\u2067x\u2069",
	"shop\u200f",
	"sh\u200bop",
	"\ufeffshop",
	"shop\u0085down",
	"shop\u009b31m",
	"shop\u2028Status: up",
	"shop\u2029",
	"shop\x1b[2J",
	"shop\ndown",
}

// Every name and title the API stores refuses spoofing characters with a 422 naming the
// field, on create and on update, and stores nothing.
func TestNamesRefuseSpoofingCharacters(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	site := a.mustCreate("/websites", `{"name":"ok","url":"https://example.com"}`)
	page := a.mustCreate("/status-pages", `{"slug":"ok","title":"ok"}`)
	before := a.snapshot()
	for _, name := range spoofingNames {
		q, err := jsonString(name)
		require.NoError(t, err)
		for _, tc := range []struct{ method, path, body, field string }{
			{http.MethodPost, "/websites", `{"name":` + q + `,"url":"https://example.com"}`, "name"},
			{http.MethodPatch, "/websites/" + site, `{"name":` + q + `}`, "name"},
			{http.MethodPost, "/status-pages", `{"slug":"spoof","title":` + q + `}`, "title"},
			{http.MethodPatch, "/status-pages/" + page, `{"title":` + q + `}`, "title"},
			{http.MethodPost, "/status-pages", `{"slug":"spoof","title":"ok","groups":[{"name":` + q + `,"website_ids":[]}]}`, "groups[0].name"},
		} {
			r := a.do(tc.method, tc.path, tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s %s %q: %s", tc.method, tc.path, name, r.Raw)
			code, fields := r.Err(t)
			require.Equal(t, CodeValidationFailed, code)
			require.Contains(t, fields[tc.field], "must not contain", "%s %s %q: %s", tc.method, tc.path, name, r.Raw)
		}
	}
	require.Equal(t, before, a.snapshot())
	r := a.do(http.MethodGet, "/status-pages/"+page, "")
	require.Equal(t, "ok", r.JSON(t)["title"])
}
