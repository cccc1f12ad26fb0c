package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegionCRUD(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	r := a.do("POST", "/regions", `{"name":"europe"}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
	reg := r.JSON(t)
	id := reg["id"].(string)
	require.Equal(t, "europe", reg["name"])
	require.ElementsMatch(t, []string{"id", "name", "created_at", "updated_at"}, keys(reg))

	r = a.do("GET", "/regions/"+id, "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "europe", r.JSON(t)["name"])

	r = a.do("PATCH", "/regions/"+id, `{"name":"eu-west"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	require.Equal(t, "eu-west", r.JSON(t)["name"])

	a.mustCreate("/regions", `{"name":"asia"}`)
	r = a.do("GET", "/regions?limit=1", "")
	require.Equal(t, http.StatusOK, r.Status)
	page := r.JSON(t)
	require.Len(t, page["items"], 1)
	require.NotEmpty(t, page["next_cursor"])
	r = a.do("GET", "/regions?limit=1&cursor="+escape(page["next_cursor"].(string)), "")
	page = r.JSON(t)
	require.Equal(t, "asia", page["items"].([]any)[0].(map[string]any)["name"])
	require.Equal(t, "", page["next_cursor"])

	r = a.do("DELETE", "/regions/"+id, "")
	require.Equal(t, http.StatusNoContent, r.Status)
	require.Equal(t, http.StatusNotFound, a.do("GET", "/regions/"+id, "").Status)
	require.Equal(t, http.StatusNotFound, a.do("DELETE", "/regions/"+id, "").Status)
}

// TestRegionDeleteInUse: a region that a website lists by name answers 409 unless forced,
// and force detaches it from the website.
func TestRegionDeleteInUse(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	eu := a.mustCreate("/regions", `{"name":"europe"}`)
	a.mustCreate("/regions", `{"name":"asia"}`)
	site := a.mustCreate("/websites", `{"name":"s","url":"https://s.example","regions":["europe","asia"]}`)
	before := a.snapshot()

	r := a.do("DELETE", "/regions/"+eu, "")
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
	code, _ := r.Err(t)
	require.Equal(t, CodeConflict, code)
	require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], "force=true")
	require.Equal(t, before, a.snapshot())

	r = a.do("DELETE", "/regions/"+eu+"?force=true", "")
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Raw)
	r = a.do("GET", "/websites/"+site, "")
	require.Equal(t, []any{"asia"}, r.JSON(t)["regions"])
	require.Equal(t, false, r.JSON(t)["all_regions"])
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
