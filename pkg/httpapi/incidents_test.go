package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

func TestDowntimeAndIncidentRoutes(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	ctx := context.Background()
	var site string
	require.NoError(t, a.pool.QueryRow(ctx, `INSERT INTO websites (name, url) VALUES ('Shop', 'https://shop.example') RETURNING id`).Scan(&site))
	now := time.Now().UTC().Truncate(time.Second)
	// Two closed periods in eu and us (one 3 days ago), one open in eu, and the incident behind
	// the recent ones.
	_, err := a.pool.Exec(ctx, `
		WITH i AS (INSERT INTO incidents (website_id, started_at, ended_at, outcome, message, regions)
			VALUES ($1, $2::timestamptz - interval '10 minutes', $2::timestamptz - interval '5 minutes', 'down', 'HTTP 503', '{eu,us}') RETURNING id)
		INSERT INTO region_downtimes (website_id, region, incident_id, started_at, ended_at, outcome, message, status_code)
		SELECT $1, 'eu', i.id, $2::timestamptz - interval '10 minutes', $2::timestamptz - interval '5 minutes', 'down', 'HTTP 503', 503 FROM i
		UNION ALL SELECT $1, 'us', i.id, $2::timestamptz - interval '9 minutes', $2::timestamptz - interval '5 minutes', 'timeout', 'no answer', 0 FROM i
		UNION ALL SELECT $1, 'eu', NULL, $2::timestamptz - interval '3 days', $2::timestamptz - interval '3 days' + interval '42 seconds', 'down', 'HTTP 500', 500 FROM i
		UNION ALL SELECT $1, 'eu', NULL, $2::timestamptz - interval '1 minute', NULL, 'down', 'HTTP 502', 502 FROM i`, site, now)
	require.NoError(t, err)

	r := a.do(http.MethodGet, "/monitor/"+site+"/downtime", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	var dr downtimeResponse
	require.NoError(t, json.Unmarshal(r.Raw, &dr))
	require.Equal(t, 1, dr.Days)
	require.Nil(t, dr.Region)
	require.Len(t, dr.Downtimes, 3)
	require.Equal(t, "eu", dr.Downtimes[0].Region)
	require.EqualValues(t, 300, dr.Downtimes[0].DurationSeconds)
	require.Equal(t, "HTTP 503", dr.Downtimes[0].Cause.Message)
	require.True(t, now.Add(-10*time.Minute).Equal(dr.Downtimes[0].StartedAt), "to the second")
	require.Nil(t, dr.Downtimes[2].EndedAt)

	r = a.do(http.MethodGet, "/monitor/"+site+"/downtime?days=7&region=eu", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.NoError(t, json.Unmarshal(r.Raw, &dr))
	require.Len(t, dr.Downtimes, 3)
	require.EqualValues(t, 42, dr.Downtimes[0].DurationSeconds)
	require.Equal(t, "eu", *dr.Region)

	r = a.do(http.MethodGet, "/monitor/"+site+"/last_downtime?region=us", "")
	require.Equal(t, http.StatusOK, r.Status)
	var last postgres.Downtime
	require.NoError(t, json.Unmarshal(r.Raw, &last))
	require.Equal(t, "us", last.Region)
	require.Equal(t, "timeout", string(last.Cause.Outcome))

	r = a.do(http.MethodGet, "/monitor/"+site+"/last_downtime?region=ap", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "null", string(r.Raw[:4]))

	for _, bad := range []string{"?days=0", "?days=x", "?days=366", "?region=EU!"} {
		r = a.do(http.MethodGet, "/monitor/"+site+"/downtime"+bad, "")
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, bad)
	}
	r = a.do(http.MethodGet, "/monitor/7d1b7c3a-0000-4000-8000-000000000000/last_downtime", "")
	require.Equal(t, http.StatusNotFound, r.Status)

	r = a.do(http.MethodGet, "/incidents?state=resolved&website_id="+site, "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	var incs listResponse[monitor.Incident]
	require.NoError(t, json.Unmarshal(r.Raw, &incs))
	require.Len(t, incs.Items, 1)
	require.Equal(t, []string{"eu", "us"}, incs.Items[0].Regions)
	require.EqualValues(t, 300, incs.Items[0].DurationSeconds)
	require.Empty(t, incs.NextCursor)

	r = a.do(http.MethodGet, "/incidents?state=open", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.NoError(t, json.Unmarshal(r.Raw, &incs))
	require.Empty(t, incs.Items)
	r = a.do(http.MethodGet, "/incidents?state=closed", "")
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)

	r = a.do(http.MethodGet, "/incidents", "")
	require.NoError(t, json.Unmarshal(r.Raw, &incs))
	r = a.do(http.MethodGet, "/incidents/"+incs.Items[0].ID, "")
	require.Equal(t, http.StatusOK, r.Status)
	var one incidentResponse
	require.NoError(t, json.Unmarshal(r.Raw, &one))
	require.Len(t, one.Downtimes, 2)

	_, err = a.pool.Exec(ctx, `INSERT INTO outbox (incident_id, kind, channel, recipient, payload, state, next_attempt_at, created_at, last_error)
		VALUES ($1, 'down', 'email', 'ops@example.com', '{}', 'given_up', now(), now(), '451 try again')`, incs.Items[0].ID)
	require.NoError(t, err)
	r = a.do(http.MethodGet, "/notifications?state=given_up", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	var ns listResponse[monitor.Notification]
	require.NoError(t, json.Unmarshal(r.Raw, &ns))
	require.Len(t, ns.Items, 1)
	require.Equal(t, "451 try again", ns.Items[0].LastError)
	require.Equal(t, site, ns.Items[0].WebsiteID)
	r = a.do(http.MethodGet, "/notifications?state=lost", "")
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)

	// Every route needs the key.
	for _, p := range []string{"/incidents", "/notifications", "/monitor/" + site + "/downtime"} {
		require.Equal(t, http.StatusUnauthorized, a.doKey(http.MethodGet, p, "", "").Status, p)
	}
}
