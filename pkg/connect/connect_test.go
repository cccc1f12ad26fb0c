package connect_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/config"
	"github.com/vigil-monitor/vigil/pkg/connect"
)

func TestWithConnectTimeout(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"url", "postgres://postgres@127.0.0.1:5432/vigil?sslmode=disable",
			"postgres://postgres@127.0.0.1:5432/vigil?connect_timeout=5&sslmode=disable"},
		{"url that sets its own", "postgres://h/db?connect_timeout=30", "postgres://h/db?connect_timeout=30"},
		{"keyword/value", "host=h dbname=vigil", "host=h dbname=vigil connect_timeout=5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, connect.WithConnectTimeout(c.in, 5*time.Second))
		})
	}
}

// TestPostgresDoesNotHangOnASilentServer: a server that accepts the connection and never
// answers (hung, or a black hole) fails the connection after the timeout instead of forever.
func TestPostgresDoesNotHangOnASilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	start := time.Now()
	_, err = connect.Postgres(context.Background(), config.Postgres{
		DatabaseURL: "postgres://postgres@" + ln.Addr().String() + "/vigil?sslmode=disable"})
	require.Error(t, err)
	require.Less(t, time.Since(start), connect.DefaultConnectTimeout+5*time.Second)
}
