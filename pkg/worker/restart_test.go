package worker_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/queue"
)

// privateRedis runs a redis-server of the test's own, without persistence, so that the test
// can restart it (losing streams, groups and loaded scripts) without disturbing the shared one.
type privateRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	r := &privateRedis{t: t, port: port}
	r.start(path)
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) start(path string) {
	r.t.Helper()
	r.cmd = exec.Command(path, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	require.NoError(r.t, r.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	require.Eventually(r.t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 10*time.Millisecond)
}

func (r *privateRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill() // best effort: the server may already be gone
		_, _ = r.cmd.Process.Wait()
	}
}

func (r *privateRedis) restart() {
	r.stop()
	r.start(r.cmd.Path)
}

func (r *privateRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// TestWorkerSurvivesARedisRestart: Redis restarts and loses everything (stream, group,
// scripts). The worker reconnects, recreates its group, reloads its script and carries on.
func TestWorkerSurvivesARedisRestart(t *testing.T) {
	t.Parallel()
	srv := startPrivateRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true,
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	e := &env{t: t, rdb: rdb, keys: queue.Keys{Prefix: "restart"}}
	mw := &memWriter{}
	w, _ := e.start(e.params("w1", upProber(), mw))

	e.enqueue(job(uuid.NewString(), "http://127.0.0.1:1/"))
	require.Eventually(t, func() bool { return w.Stats().Completed.Load() == 1 }, 10*time.Second, 5*time.Millisecond)

	srv.restart()
	require.Eventually(t, func() bool {
		// The scheduler keeps queueing; the first XADD after the restart creates the stream
		// without the group.
		e.enqueue(job(uuid.NewString(), "http://127.0.0.1:1/"))
		return w.Stats().Completed.Load() >= 2
	}, 20*time.Second, 200*time.Millisecond)
	require.Eventually(t, func() bool { return e.pending() == 0 }, 10*time.Second, 10*time.Millisecond)
}
