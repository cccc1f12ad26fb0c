package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// TestDatabaseDownIsServiceUnavailable: an error that means PostgreSQL is out of reach answers
// 503 "unavailable", which tells a client to retry, and not 500.
func TestDatabaseDownIsServiceUnavailable(t *testing.T) {
	t.Parallel()
	// A pool on a port where nothing listens fails the way a stopped server does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@"+addr+"/vigil?sslmode=disable")
	require.NoError(t, err)
	defer pool.Close()
	_, poolErr := pool.Exec(context.Background(), "SELECT 1")
	require.Error(t, poolErr)

	cases := []struct {
		name string
		err  error
		want int
	}{
		{"connect refused through the pool", fmt.Errorf("postgres: list websites: %w", poolErr), http.StatusServiceUnavailable},
		{"connection reset under a query", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, http.StatusServiceUnavailable},
		{"client went away", fmt.Errorf("postgres: %w", context.Canceled), http.StatusInternalServerError},
		{"anything else", fmt.Errorf("postgres: boom"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := errorResponse(c.err)
			require.Equal(t, c.want, got.Status)
			if c.want == http.StatusServiceUnavailable {
				require.Equal(t, CodeUnavailable, got.Code)
			}
		})
	}
}
