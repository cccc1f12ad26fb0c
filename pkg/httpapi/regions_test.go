package httpapi

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/queue/redistest"
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

// Deleting a region removes its Redis keys: the jobs queued in its stream carry the websites'
// custom headers, credentials included. A region that is kept (409) keeps them.
func TestRegionDeleteRemovesRedisKeys(t *testing.T) {
	t.Parallel()
	rdb, qk := redistest.New(t)
	a := newTestAPI(t, func(p *Params) { p.RegionKeys = queue.NewRegionKeys(rdb, qk) })
	ctx := t.Context()
	eu := a.mustCreate("/regions", `{"name":"europe"}`)
	a.mustCreate("/websites", `{"name":"s","url":"https://s.example","regions":["europe"]}`)
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: qk.Checks("europe"),
		Values: []any{"job", `{"headers":{"Authorization":"Bearer hunter2"}}`}}).Err())
	require.NoError(t, rdb.XGroupCreate(ctx, qk.Checks("europe"), queue.Group, "0").Err())
	require.NoError(t, rdb.HSet(ctx, qk.Pending("europe"), "w1", "1").Err())
	require.NoError(t, rdb.HSet(ctx, qk.State("europe", "w1"), "state", "up").Err())
	regionKeys := []string{qk.Checks("europe"), qk.Pending("europe"), qk.State("europe", "w1")}

	require.Equal(t, http.StatusConflict, a.do("DELETE", "/regions/"+eu, "").Status)
	n, err := rdb.Exists(ctx, regionKeys...).Result()
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "a region that stays keeps its keys")

	require.Equal(t, http.StatusNoContent, a.do("DELETE", "/regions/"+eu+"?force=true", "").Status)
	n, err = rdb.Exists(ctx, regionKeys...).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the deleted region's stream, group and markers are gone")
}
