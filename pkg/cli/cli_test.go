package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/config"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"clean stop", nil, 0, ""},
		{"help", flag.ErrHelp, 0, ""},
		{"usage", fmt.Errorf("%w: unknown command", ErrUsage), 2, "tool: usage: unknown command\n"},
		{"failure", errors.New("postgres: down"), 1, "tool: postgres: down\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := exitCode("tool", tc.err)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.out, out)
		})
	}
}

func TestHelpListsFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	var cfg struct{ config.Redis }
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.String("region", "", "the region")
	var stdout, stderr bytes.Buffer
	err := Parse(fs, "usage: tool --region NAME", &cfg, []string{"--help"}, &stdout, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	out := stdout.String()
	require.Contains(t, out, "usage: tool --region NAME")
	require.Contains(t, out, "-region")
	require.Contains(t, out, "REDIS_URL")
	require.Contains(t, out, "VIGIL_REDIS_PREFIX")
	require.NotContains(t, out, "DATABASE_URL", "only what the binary reads")
}

func TestSetupRefusesStrayArgumentsAndLoadsConfig(t *testing.T) {
	t.Setenv("VIGIL_REDIS_PREFIX", "from-env")
	var cfg struct{ config.Redis }
	var stdout, stderr bytes.Buffer
	err := Setup(flag.NewFlagSet("tool", flag.ContinueOnError), "usage: tool", &cfg, []string{"extra"}, &stdout, &stderr)
	require.ErrorIs(t, err, ErrUsage)
	require.NoError(t, Setup(flag.NewFlagSet("tool", flag.ContinueOnError), "usage: tool", &cfg, nil, &stdout, &stderr))
	require.Equal(t, "from-env", cfg.RedisPrefix)
	require.Equal(t, "redis://127.0.0.1:6379/0", cfg.RedisURL, "defaults apply")
}
