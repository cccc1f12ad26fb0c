package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The paths every role serves on VIGIL_METRICS_ADDR. Kubernetes probes and docker-compose
// health checks point at them.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
)

// ReadyTimeout bounds one readiness check.
const ReadyTimeout = 3 * time.Second

// shutdownTimeout bounds how long Serve waits for in-flight scrapes when ctx ends.
const shutdownTimeout = 5 * time.Second

// Handler serves /metrics from g, /healthz (the process is alive: always 200) and /readyz
// (ready(ctx) == nil: 200, else 503 with the error in JSON). A nil ready is always ready.
//
// Liveness and readiness differ on purpose: a worker whose Redis is down is alive and must not
// be restarted in a loop, but it should not count as ready.
func Handler(g prometheus.Gatherer, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// One failing collector (Redis down) must not hide every other metric.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, status{Status: "ok"})
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, status{Status: "unavailable", Error: err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, status{Status: "ok"})
	})
	return mux
}

type status struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// Serve serves Handler(g, ready) on addr until ctx ends, then shuts the server down, waiting
// a few seconds for in-flight requests. It returns an error only if it cannot listen or the
// server fails; a shutdown because ctx ended returns nil. An empty addr turns the endpoint
// off: Serve then just waits for ctx, so callers can run it unconditionally.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, ready func(context.Context) error, log *slog.Logger) error {
	if addr == "" {
		log.InfoContext(ctx, "metrics endpoint off (VIGIL_METRICS_ADDR is empty)")
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, g, ready, log)
}

// ServeListener is Serve on a listener the caller opened, e.g. on 127.0.0.1:0 in a test. It
// closes ln.
func ServeListener(ctx context.Context, ln net.Listener, g prometheus.Gatherer, ready func(context.Context) error, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           Handler(g, ready),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.InfoContext(ctx, "metrics listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve: %w", err)
	}
	return nil
}

// Start runs Serve in the background for a role's lifetime and returns the function that ends
// it and waits. The endpoint deliberately ignores the cancellation of ctx (a signal): a role
// that is draining still answers scrapes and probes until its main calls stop, last.
func Start(ctx context.Context, addr string, g prometheus.Gatherer, ready func(context.Context) error, log *slog.Logger) (stop func()) {
	srvCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Serve(srvCtx, addr, g, ready, log); err != nil {
			log.Error("metrics server", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
