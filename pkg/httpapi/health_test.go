package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	r := a.doKey("GET", "/healthz", "", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, `{"status":"ok"}`, string(r.Raw))
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	goodRedis := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { require.NoError(t, goodRedis.Close()) })
	// Port 1 on loopback refuses connections at once.
	badRedis := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { require.NoError(t, badRedis.Close()) })
	goodInflux := influxdb2.NewClient("http://127.0.0.1:8086", "")
	t.Cleanup(goodInflux.Close)
	badInflux := influxdb2.NewClient("http://127.0.0.1:1", "")
	t.Cleanup(badInflux.Close)
	ping := func(c *redis.Client) RedisPinger { return func(ctx context.Context) error { return c.Ping(ctx).Err() } }

	tests := []struct {
		name    string
		redis   RedisPinger
		influx  InfluxPinger
		status  int
		failing []any
	}{
		{"all up", ping(goodRedis), goodInflux, http.StatusOK, nil},
		{"redis down", ping(badRedis), goodInflux, http.StatusServiceUnavailable, []any{"redis"}},
		{"influx down", ping(goodRedis), badInflux, http.StatusServiceUnavailable, []any{"influxdb"}},
		{"both down", ping(badRedis), badInflux, http.StatusServiceUnavailable, []any{"influxdb", "redis"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newTestAPI(t, func(p *Params) {
				p.Redis, p.Influx, p.ReadyTimeout = tt.redis, tt.influx, time.Second
			})
			r := a.doKey("GET", "/readyz", "", "")
			require.Equal(t, tt.status, r.Status, "%s", r.Raw)
			body := r.JSON(t)
			if tt.failing == nil {
				require.NotContains(t, body, "failing")
			} else {
				require.Equal(t, tt.failing, body["failing"])
			}
			require.Equal(t, "ok", body["checks"].(map[string]any)["postgres"])
			require.Len(t, body["checks"], 3)
		})
	}
}
