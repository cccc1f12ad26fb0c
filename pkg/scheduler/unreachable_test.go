package scheduler

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/loop"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// cutProxy forwards a local port to PostgreSQL until cut: then it closes every connection and
// refuses new ones, as an unreachable server would, until restored.
type cutProxy struct {
	addr, backend string
	mu            sync.Mutex
	ln            net.Listener
	conns         map[net.Conn]bool
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{addr: ln.Addr().String(), backend: backend, conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[b] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }() // ends when either side closes
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

// TestLeaderKeepsDispatchingWithoutPostgres: the leader loses PostgreSQL (its lock session
// with it). It keeps dispatching from memory instead of stopping every check; a standby that
// still reaches PostgreSQL takes the freed lock, and when PostgreSQL answers the first one
// again it finds the lock taken and stands by. No due time is dispatched twice meanwhile.
func TestLeaderKeepsDispatchingWithoutPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.Pool(t)
	rdb, keys := testRedis(t)
	addRegions(t, pool, "eu")
	rows := make([][]any, 300)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("site-%d", i), fmt.Sprintf("http://127.0.0.1:1/%d", i), 10}
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"websites"}, []string{"name", "url", "interval_seconds"}, pgx.CopyFromRows(rows))
	require.NoError(t, err)
	// A worker stand-in that finishes every check at once.
	go func() {
		for ctx.Err() == nil {
			rdb.Del(ctx, keys.Pending("eu"))
			loop.Sleep(ctx, 50*time.Millisecond)
		}
	}()

	direct := pool.Config().ConnString()
	u, err := url.Parse(direct)
	require.NoError(t, err)
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr
	a := newTestScheduler(t, u.String(), rdb, keys, "a", nil)
	start(t, a)
	require.Eventually(t, a.IsLeader, 10*time.Second, 10*time.Millisecond)

	proxy.cut()
	before := a.Stats().Dispatched
	for deadline := time.Now().Add(15 * time.Second); a.Stats().Dispatched <= before+30; {
		require.True(t, a.IsLeader(), "the leader stood down when PostgreSQL went away")
		require.True(t, time.Now().Before(deadline), "the leader dispatches from memory")
		loop.Sleep(ctx, 10*time.Millisecond)
	}

	b := newTestScheduler(t, direct, rdb, keys, "b", nil)
	start(t, b)
	require.Eventually(t, b.IsLeader, 10*time.Second, 10*time.Millisecond, "the standby takes the freed lock")
	proxy.restore(t)
	require.Eventually(t, func() bool { return !a.IsLeader() }, 10*time.Second, 10*time.Millisecond,
		"back in touch, the old leader finds the lock taken and stands by")
	require.True(t, b.IsLeader())

	seen := map[string]bool{}
	for _, j := range streamJobs(t, rdb, keys.Checks("eu")) {
		k := fmt.Sprintf("%s/%d", j.WebsiteID, j.DueAt)
		require.False(t, seen[k], "dispatched twice: %s", k)
		seen[k] = true
	}
}
