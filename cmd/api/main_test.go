package main

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/cli"
	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

func TestHelpListsVariables(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &errOut)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, v := range []string{"API_ADDR", "VIGIL_API_KEY", "VIGIL_ALLOW_TARGETS", "DATABASE_URL", "keys create"} {
		require.Contains(t, out.String(), v)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, &out, &errOut)
	require.ErrorIs(t, err, cli.ErrUsage)
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	t.Setenv("VIGIL_ALLOW_TARGETS", "10.0.0.0/33")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"migrate"}, &out, &errOut)
	require.ErrorContains(t, err, "VIGIL_ALLOW_TARGETS")
}

func TestKeysCommands(t *testing.T) {
	t.Setenv("DATABASE_URL", pgtest.URL(t))
	ctx := context.Background()

	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"keys", "create", "--name", "ci"}, &out, &errOut))
	key := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(key, "vgl_"), "stdout is the key alone: %q", out.String())

	out.Reset()
	require.NoError(t, run(ctx, []string{"keys", "list"}, &out, &errOut))
	require.Contains(t, out.String(), "ci")
	require.NotContains(t, out.String(), key, "the key is never listed")
	id := strings.Fields(strings.Split(out.String(), "\n")[1])[0]

	require.NoError(t, run(ctx, []string{"keys", "revoke", id}, &out, &errOut))
	out.Reset()
	require.NoError(t, run(ctx, []string{"keys", "list"}, &out, &errOut))
	fields := strings.Fields(strings.Split(out.String(), "\n")[1])
	require.NotEqual(t, "-", fields[len(fields)-1], "the key shows its revocation time")

	require.ErrorIs(t, run(ctx, []string{"keys", "create"}, &out, &errOut), cli.ErrUsage)
	require.ErrorIs(t, run(ctx, []string{"keys", "revoke"}, &out, &errOut), cli.ErrUsage)
	require.Error(t, run(ctx, []string{"keys", "revoke", "00000000-0000-0000-0000-000000000000"}, &out, &errOut))
}

// TestServe starts the api on a free port with a seeded key, uses it, and stops it with the
// context, as SIGTERM does.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("DATABASE_URL", pgtest.URL(t))
	t.Setenv("API_ADDR", addr)
	t.Setenv("VIGIL_API_KEY", "local-test-key")
	t.Setenv("VIGIL_LOG_FORMAT", "text")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs logtest.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, &logs, &logs) }()

	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)

	req, err := http.NewRequest(http.MethodPost, base+"/regions", strings.NewReader(`{"name":"europe"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer local-test-key")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	resp, err = http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("api did not stop")
	}
	require.NotContains(t, logs.String(), "local-test-key", "the key is never logged")
	require.Contains(t, logs.String(), "api stopped")
}
