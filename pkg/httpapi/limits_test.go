package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMinIntervalFloor(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, func(p *Params) { p.MinIntervalSeconds = 30 })
	tests := []struct {
		name     string
		interval int
		status   int
	}{
		{"below monitor's minimum", 5, http.StatusUnprocessableEntity},
		{"below the floor", 29, http.StatusUnprocessableEntity},
		{"at the floor", 30, http.StatusCreated},
		{"above", 600, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("POST", "/websites", fmt.Sprintf(`{"name":"a","url":"https://a.example","interval_seconds":%d,"timeout_ms":1000}`, tt.interval))
			require.Equal(t, tt.status, r.Status, "%s", r.Raw)
			if tt.status == http.StatusUnprocessableEntity {
				_, fields := r.Err(t)
				require.Contains(t, fields["interval_seconds"], "between 30 ")
			}
		})
	}

	// An older website below the floor (stored before the floor was raised) stays editable
	// as long as its interval does not change, and cannot move to another interval below it.
	old := a.mustCreate("/websites", `{"name":"old","url":"https://a.example","interval_seconds":60}`)
	_, err := a.pool.Exec(context.Background(), `UPDATE websites SET interval_seconds = 10, timeout_ms = 5000 WHERE id = $1`, old)
	require.NoError(t, err)
	r := a.do("PATCH", "/websites/"+old, `{"name":"renamed"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	r = a.do("PATCH", "/websites/"+old, `{"interval_seconds":20}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
	r = a.do("PATCH", "/websites/"+old, `{"interval_seconds":45}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)

	// Without a floor, monitor's minimum applies.
	b := newTestAPI(t)
	r = b.do("POST", "/websites", `{"name":"a","url":"https://a.example","interval_seconds":10,"timeout_ms":1000}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
}

// A confirmation retry hits the target as a check does, so the floor holds for
// retry_interval_seconds too: a key holder cannot have a failing target checked every second.
func TestMinIntervalFloorAppliesToRetries(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, func(p *Params) { p.MinIntervalSeconds = 30 })
	tests := []struct {
		name   string
		retry  string
		status int
		stored float64
	}{
		{"one second", `,"retry_interval_seconds":1`, http.StatusUnprocessableEntity, 0},
		{"below the floor", `,"retry_interval_seconds":29`, http.StatusUnprocessableEntity, 0},
		{"at the floor", `,"retry_interval_seconds":30`, http.StatusCreated, 30},
		{"left out: the default is raised to the floor", ``, http.StatusCreated, 30},
		{"null: the default is raised to the floor", `,"retry_interval_seconds":null`, http.StatusCreated, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("POST", "/websites", `{"name":"a","url":"https://a.example","interval_seconds":60`+tt.retry+`}`)
			require.Equal(t, tt.status, r.Status, "%s", r.Raw)
			if tt.status == http.StatusUnprocessableEntity {
				_, fields := r.Err(t)
				require.Contains(t, fields["retry_interval_seconds"], "between 30 ")
				return
			}
			require.Equal(t, tt.stored, r.JSON(t)["retry_interval_seconds"])
		})
	}

	// Without a floor of its own, the install's floor is monitor's minimum interval.
	b := newTestAPI(t)
	r := b.do("POST", "/websites", `{"name":"a","url":"https://a.example","retry_interval_seconds":1}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)

	// An older website with a short retry stays editable while its retry interval does not
	// change, and cannot move to another retry interval below the floor.
	old := a.mustCreate("/websites", `{"name":"old","url":"https://a.example","interval_seconds":60}`)
	_, err := a.pool.Exec(context.Background(), `UPDATE websites SET retry_interval_seconds = 1 WHERE id = $1`, old)
	require.NoError(t, err)
	r = a.do("PATCH", "/websites/"+old, `{"name":"renamed"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	r = a.do("PATCH", "/websites/"+old, `{"retry_interval_seconds":2}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
	r = a.do("PATCH", "/websites/"+old, `{"retry_interval_seconds":null}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	require.Equal(t, 30.0, r.JSON(t)["retry_interval_seconds"])
}

// The cap holds under concurrent creates in one process: exactly MaxWebsites are stored.
func TestMaxWebsites(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, func(p *Params) { p.MaxWebsites = 5 })
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = a.do("POST", "/websites", fmt.Sprintf(`{"name":"s%d","url":"https://a.example"}`, i)).Status
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	require.Equal(t, map[int]int{http.StatusCreated: 5, http.StatusConflict: 15}, counts)

	r := a.do("POST", "/websites", `{"name":"one more","url":"https://a.example"}`)
	require.Equal(t, http.StatusConflict, r.Status)
	code, _ := r.Err(t)
	require.Equal(t, CodeWebsiteLimit, code)
	require.Contains(t, string(r.Raw), "VIGIL_MAX_WEBSITES")

	// An invalid website is a 422 whatever the count: validation comes first.
	r = a.do("POST", "/websites", `{"name":"bad","url":"ftp://a.example"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)

	// Deleting one makes room again.
	var id string
	require.NoError(t, a.pool.QueryRow(context.Background(), `SELECT id FROM websites LIMIT 1`).Scan(&id))
	require.Equal(t, http.StatusNoContent, a.do("DELETE", "/websites/"+id, "").Status)
	a.mustCreate("/websites", `{"name":"room","url":"https://a.example"}`)
}
