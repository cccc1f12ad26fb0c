package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"url ok", []string{srv.URL + "/healthz"}, nil, ""},
		{"url 503", []string{srv.URL + "/readyz"}, nil, "status 503"},
		{"from VIGIL_METRICS_ADDR", nil, map[string]string{"VIGIL_METRICS_ADDR": ":" + port}, ""},
		{"no url and no addr", nil, nil, "VIGIL_METRICS_ADDR is empty"},
		{"bad addr", nil, map[string]string{"VIGIL_METRICS_ADDR": "9090"}, "VIGIL_METRICS_ADDR"},
		{"refused", []string{"-timeout", "1s", "http://127.0.0.1:1/healthz"}, nil, "connection refused"},
		{"two urls", []string{"a", "b"}, nil, "at most one URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
