package main

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHelpListsVariables(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, v := range []string{"DATABASE_URL", "REDIS_URL", "VIGIL_RESYNC_INTERVAL", "VIGIL_LEADER_RETRY",
		"VIGIL_TICK", "VIGIL_DISPATCH_BATCH", "VIGIL_STREAM_MAXLEN", "VIGIL_PENDING_GRACE", "VIGIL_METRICS_ADDR"} {
		require.Contains(t, stdout.String(), v)
	}
}

func TestBadConfigFailsFast(t *testing.T) {
	t.Setenv("VIGIL_TICK", "-1s")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), nil, &stdout, &stderr)
	require.ErrorContains(t, err, "VIGIL_TICK")
}
