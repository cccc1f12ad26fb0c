package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/cli"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// An API key's name follows the same rule as every other name (monitor.CheckName): the key
// listing and the logs show it, so it may not hide or reorder text either.
func TestKeyNameRefusesSpoofingCharacters(t *testing.T) {
	t.Setenv("DATABASE_URL", pgtest.URL(t))
	ctx := context.Background()
	for _, name := range []string{"ci\u202egnp", "ci\u0085x", "ci\u2028x", "ci\x1b[2J", "ci\x00", "ci\xff", " ", strings.Repeat("k", 201)} {
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"keys", "create", "--name", name}, &out, &errOut)
		require.ErrorIs(t, err, cli.ErrUsage, "name %q", name)
		require.Empty(t, out.String(), "no key is printed for name %q", name)
	}
	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"keys", "create", "--name", "ci – déploiement"}, &out, &errOut))
	require.NotEmpty(t, out.String())
}
