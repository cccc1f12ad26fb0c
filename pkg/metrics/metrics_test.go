package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// names are the metric families the roles' structs register, as the alert rules and the
// end-to-end test expect them.
var names = []string{
	"vigil_checks_total",
	"vigil_check_duration_seconds",
	"vigil_worker_checks_in_flight",
	"vigil_worker_jobs_reclaimed_total",
	"vigil_worker_jobs_dead_lettered_total",
	"vigil_worker_transitions_total",
	"vigil_tsdb_points_written_total",
	"vigil_tsdb_write_errors_total",
	"vigil_scheduler_dispatch_lag_seconds",
	"vigil_scheduler_dispatched_total",
	"vigil_scheduler_coalesced_total",
	"vigil_scheduler_leader",
	"vigil_scheduler_pairs",
	"vigil_scheduler_resyncs_total",
	"vigil_notifications_total",
	"vigil_notifier_events_total",
	"vigil_incidents_opened_total",
	"vigil_incidents_resolved_total",
	"vigil_http_requests_total",
	"vigil_http_request_duration_seconds",
	"go_goroutines",
	"process_cpu_seconds_total",
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serve runs ServeListener on a free local port until the test ends and returns its base URL.
func serve(t *testing.T, g prometheus.Gatherer, ready func(context.Context) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- metrics.ServeListener(ctx, ln, g, ready, discard()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("ServeListener did not return after its context ended")
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func TestServeMetricsAndHealth(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	w := metrics.NewWorker(reg, "eu-west")
	s := metrics.NewScheduler(reg)
	n := metrics.NewNotifier(reg)
	a := metrics.NewAPI(reg)

	w.ObserveCheck(monitor.OutcomeDown, 150*time.Millisecond)
	w.ObserveCheck(monitor.OutcomeUp, 20*time.Millisecond)
	w.ObserveCheck(monitor.OutcomeUp, 30*time.Millisecond)
	w.PointsWritten(3)
	w.WriteError()
	w.Reclaimed(2)
	w.DeadLettered(1)
	w.Transition(monitor.StateDown)
	done := w.CheckStarted()
	s.InitRegion("us-east")
	s.Dispatched("eu-west", 5)
	s.Coalesced("eu-west", 1)
	s.ObserveDispatchLag(12 * time.Millisecond)
	s.ObserveDispatchLag(-time.Second) // clock skew must not make a negative observation
	s.SetLeader(true)
	s.SetPairs(7)
	s.Resynced(errors.New("boom"))
	n.Notification("email", metrics.ResultSent)
	n.Notification("webhook", metrics.ResultGivenUp)
	n.Event()
	n.IncidentOpened()
	a.ObserveRequest(http.MethodGet, "/websites/:id", 200, time.Millisecond)

	base := serve(t, reg, nil)
	code, body := get(t, base+metrics.MetricsPath)
	require.Equal(t, http.StatusOK, code)
	fams, err := metrics.ParseText(bytes.NewReader(body))
	require.NoError(t, err)
	for _, name := range names {
		_, found := metrics.Sum(fams, name, nil)
		require.True(t, found, "metric %s missing from /metrics", name)
	}

	for _, tc := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"vigil_checks_total", map[string]string{"region": "eu-west", "outcome": "up"}, 2},
		{"vigil_checks_total", map[string]string{"region": "eu-west", "outcome": "down"}, 1},
		{"vigil_checks_total", map[string]string{"outcome": "blocked"}, 0},
		{"vigil_check_duration_seconds", map[string]string{"region": "eu-west"}, 3},
		{"vigil_worker_checks_in_flight", nil, 1},
		{"vigil_tsdb_points_written_total", nil, 3},
		{"vigil_tsdb_write_errors_total", nil, 1},
		{"vigil_worker_jobs_reclaimed_total", nil, 2},
		{"vigil_worker_jobs_dead_lettered_total", nil, 1},
		{"vigil_worker_transitions_total", map[string]string{"state": "down"}, 1},
		{"vigil_worker_transitions_total", map[string]string{"state": "up"}, 0},
		{"vigil_scheduler_dispatched_total", map[string]string{"region": "eu-west"}, 5},
		{"vigil_scheduler_dispatched_total", map[string]string{"region": "us-east"}, 0},
		{"vigil_scheduler_coalesced_total", map[string]string{"region": "eu-west"}, 1},
		{"vigil_scheduler_dispatch_lag_seconds", nil, 2},
		{"vigil_scheduler_leader", nil, 1},
		{"vigil_scheduler_pairs", nil, 7},
		{"vigil_scheduler_resyncs_total", map[string]string{"result": "error"}, 1},
		{"vigil_notifications_total", map[string]string{"channel": "email", "result": "sent"}, 1},
		{"vigil_notifications_total", map[string]string{"channel": "webhook", "result": "given_up"}, 1},
		{"vigil_notifications_total", map[string]string{"channel": "email", "result": "failed"}, 0},
		{"vigil_notifier_events_total", nil, 1},
		{"vigil_incidents_opened_total", nil, 1},
		{"vigil_http_requests_total", map[string]string{"route": "/websites/:id", "code": "200"}, 1},
	} {
		got, found := metrics.Sum(fams, tc.name, tc.match)
		require.True(t, found, "%s%v absent", tc.name, tc.match)
		require.Equal(t, tc.want, got, "%s%v", tc.name, tc.match)
	}

	done()
	s.SetLeader(false)
	fams, err = reg.Gather()
	require.NoError(t, err)
	got, _ := metrics.Sum(fams, "vigil_worker_checks_in_flight", nil)
	require.Zero(t, got)
	got, _ = metrics.Sum(fams, "vigil_scheduler_leader", nil)
	require.Zero(t, got)
	got, _ = metrics.Sum(fams, "vigil_scheduler_dispatch_lag_seconds", nil)
	require.Equal(t, 2.0, got)

	code, body = get(t, base+metrics.HealthPath)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status":"ok"}`, string(body))
	code, _ = get(t, base+metrics.ReadyPath)
	require.Equal(t, http.StatusOK, code, "a nil ready func is always ready")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		ready    func(context.Context) error
		wantCode int
		wantErr  string
	}{
		{"ready", func(context.Context) error { return nil }, http.StatusOK, ""},
		{"store down", func(context.Context) error { return errors.New("redis: dial tcp 127.0.0.1:6379: connection refused") }, http.StatusServiceUnavailable, "redis: dial tcp 127.0.0.1:6379: connection refused"},
		{"deadline", func(ctx context.Context) error {
			_, ok := ctx.Deadline()
			if !ok {
				return errors.New("readiness check has no deadline")
			}
			return nil
		}, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := serve(t, prometheus.NewRegistry(), tc.ready)
			code, body := get(t, base+metrics.ReadyPath)
			require.Equal(t, tc.wantCode, code, string(body))
			var st struct{ Status, Error string }
			require.NoError(t, json.Unmarshal(body, &st))
			require.Equal(t, tc.wantErr, st.Error)
			code, _ = get(t, base+metrics.HealthPath)
			require.Equal(t, http.StatusOK, code, "liveness must not depend on the stores")
		})
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	t.Run("empty addr waits for ctx", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- metrics.Serve(ctx, "", prometheus.NewRegistry(), nil, discard()) }()
		select {
		case err := <-done:
			t.Fatalf("Serve returned before ctx ended: %v", err)
		default:
		}
		cancel()
		require.NoError(t, <-done)
	})
	t.Run("address in use", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		err = metrics.Serve(t.Context(), ln.Addr().String(), prometheus.NewRegistry(), nil, discard())
		require.ErrorContains(t, err, "metrics: listen")
	})
	t.Run("shuts down with ctx", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- metrics.Serve(ctx, addr, prometheus.NewRegistry(), nil, discard()) }()
		require.Eventually(t, func() bool {
			resp, err := http.Get("http://" + addr + metrics.HealthPath)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 5*time.Second, 10*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
		_, err = net.DialTimeout("tcp", addr, time.Second)
		require.Error(t, err, "the listener must be closed after shutdown")
	})
}

func TestQueryGauge(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var fail bool
	reg.MustRegister(metrics.IncidentsOpen(func(ctx context.Context) (float64, error) {
		if fail {
			return 0, errors.New("postgres: down")
		}
		return 4, nil
	}, discard()))
	fams, err := reg.Gather()
	require.NoError(t, err)
	got, found := metrics.Sum(fams, "vigil_incidents_open", nil)
	require.True(t, found)
	require.Equal(t, 4.0, got)

	fail = true
	fams, err = reg.Gather()
	require.NoError(t, err)
	_, found = metrics.Sum(fams, "vigil_incidents_open", nil)
	require.False(t, found, "a failed query leaves the series out instead of reporting a wrong zero")
}
