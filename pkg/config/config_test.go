package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/config"
)

// A value that does not parse is reported under the variable an operator sets, never the Go
// field behind it, and every bad variable is named at once.
func TestLoadNamesTheVariable(t *testing.T) {
	t.Setenv("VIGIL_WORKER_CONCURRENCY", "abc")
	t.Setenv("VIGIL_RECLAIM_GRACE", "soon")
	var w config.Worker
	err := config.Load(&w)
	require.Error(t, err)
	require.Contains(t, err.Error(), `VIGIL_WORKER_CONCURRENCY: not a valid int`)
	require.Contains(t, err.Error(), `VIGIL_RECLAIM_GRACE: not a valid time.Duration`)
	require.NotContains(t, err.Error(), `field "Concurrency"`)
}
