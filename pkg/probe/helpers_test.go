package probe

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// allowLoopback1 opens only 127.0.0.1, so that 127.0.0.2 shows a refused address that is
// still routable on this machine.
var allowLoopback1 = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// newServer starts an httptest server whose connection errors do not spam the test log.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// newTLSServer starts an httptest TLS server; its certificate covers 127.0.0.1.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// rawServer accepts TCP connections on addr and hands each to handle, for targets that break
// HTTP on purpose. Cleanup closes the listener and every connection and waits for the
// handlers, so that the goroutine checks see only the prober's own goroutines.
func rawServer(t *testing.T, addr string, handle func(c net.Conn, done <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequestHead reads until the end of the request headers, or an error.
func readRequestHead(c net.Conn) {
	buf := make([]byte, 4096)
	var seen []byte
	for !bytes.Contains(seen, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		seen = append(seen, buf[:n]...)
	}
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// gzipMember is one gzip member holding n copies of b. Concatenated members form one valid
// gzip stream, which lets a handler serve a gigabyte of zeros from a kilobyte of memory.
func gzipMember(b byte, n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := bytes.Repeat([]byte{b}, 64<<10)
	for n > 0 {
		k := min(n, len(chunk))
		_, _ = zw.Write(chunk[:k])
		n -= k
	}
	_ = zw.Close()
	return buf.Bytes()
}

var zerosMiB = sync.OnceValue(func() []byte { return gzipMember(0, 1<<20) })

// gzipBomb serves prefix and then 1 GiB of zeros, gzip'd, from one precomputed 1 MiB member.
func gzipBomb(prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var head bytes.Buffer
		zw := gzip.NewWriter(&head)
		_, _ = zw.Write([]byte(prefix))
		_ = zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/html")
		if _, err := w.Write(head.Bytes()); err != nil {
			return
		}
		member := zerosMiB()
		for range 1024 {
			if _, err := w.Write(member); err != nil {
				return
			}
		}
	}
}

var chunk32K = bytes.Repeat([]byte("all work and no play "), 32<<10/21)

// infiniteBody writes until the client goes away.
func infiniteBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	for {
		if _, err := w.Write(chunk32K); err != nil {
			return
		}
	}
}

// fakeDNS is a tiny authoritative DNS server on UDP 127.0.0.1, for names that the test points
// at chosen addresses. Unknown names get NXDOMAIN.
type fakeDNS struct {
	pc    net.PacketConn
	mu    sync.Mutex
	names map[string]netip.Addr // fully qualified, lower case
	mute  map[string]bool       // names whose queries get no answer at all
}

func newFakeDNS(t *testing.T) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &fakeDNS{pc: pc, names: map[string]netip.Addr{}, mute: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out, ok := d.answer(buf[:n]); ok {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
	})
	return d
}

func (d *fakeDNS) set(name string, a netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.names[strings.ToLower(name)+"."] = a
}

// stall makes d drop every query for name (fully qualified), as a resolver that never answers.
func (d *fakeDNS) stall(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mute[strings.ToLower(name)] = true
}

func (d *fakeDNS) answer(q []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return nil, false
	}
	d.mu.Lock()
	addr, known := d.names[strings.ToLower(question.Name.String())]
	mute := d.mute[strings.ToLower(question.Name.String())]
	d.mu.Unlock()
	if mute {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	_ = b.StartQuestions()
	_ = b.Question(question)
	_ = b.StartAnswers()
	res := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 0}
	switch {
	case known && question.Type == dnsmessage.TypeA && addr.Is4():
		_ = b.AResource(res, dnsmessage.AResource{A: addr.As4()})
	case known && question.Type == dnsmessage.TypeAAAA && addr.Is6():
		_ = b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: addr.As16()})
	}
	out, err := b.Finish()
	return out, err == nil
}

// resolver resolves every name through d (the hosts file still comes first).
func (d *fakeDNS) resolver() *net.Resolver {
	addr := d.pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "udp", addr)
		},
	}
}

// requireNoGoroutineLeak waits until the number of goroutines is back to at most base.
func requireNoGoroutineLeak(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, %d before:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
