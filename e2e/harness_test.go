package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
	"github.com/vigil-monitor/vigil/pkg/metrics"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
)

// binDir holds the binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vigil-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The roles by name, not ./cmd/...: a tool being written under cmd/ must not stop the
	// end-to-end tests from building.
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/api", "./cmd/scheduler", "./cmd/worker", "./cmd/notifier", "./cmd/healthcheck")
	cmd.Dir = ".."
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// Platform is one isolated Vigil install for a test: its own PostgreSQL schema, Redis prefix and
// InfluxDB database, and the processes the test starts in it.
type Platform struct {
	t      *testing.T
	Env    []string
	APIKey string
	APIURL string

	mu    sync.Mutex
	procs []*Proc
}

// NewPlatform prepares an isolated install; nothing runs until the test starts roles.
func NewPlatform(t *testing.T) *Platform {
	t.Helper()
	id := randomHex(t, 5)
	db := "vigil_e2e_" + id
	influxExec(t, "CREATE DATABASE "+db)
	t.Cleanup(func() { influxExec(t, "DROP DATABASE "+db) })

	p := &Platform{t: t, APIKey: "vigil_e2e_" + randomHex(t, 16)}
	apiAddr := freeAddr(t)
	p.APIURL = "http://" + apiAddr
	p.Env = append(os.Environ(),
		"DATABASE_URL="+pgtest.URL(t),
		"REDIS_URL=redis://127.0.0.1:6379/0",
		"VIGIL_REDIS_PREFIX=e2e-"+id,
		"INFLUXDB_URL=http://127.0.0.1:8086",
		"INFLUXDB_TOKEN=",
		"INFLUXDB_BUCKET="+db+"/autogen",
		"API_ADDR="+apiAddr,
		"VIGIL_API_KEY="+p.APIKey,
		"VIGIL_ALLOW_TARGETS=127.0.0.0/8",
		"VIGIL_LOG_FORMAT=json",
		"VIGIL_MIN_INTERVAL_SECONDS=10",
	)
	t.Cleanup(p.stopAll)
	return p
}

// Proc is a running role.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  *logtest.Buffer
	done chan struct{}
	// exitErr is the process's exit status, set before done is closed.
	exitErr error
}

// Start runs bin with args and extra environment, logging its output if the test fails.
func (p *Platform) Start(name, bin string, extraEnv []string, args ...string) *Proc {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Env = append(append([]string(nil), p.Env...), extraEnv...)
	out := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(p.t, cmd.Start(), "start %s", name)
	proc := &Proc{Name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		proc.exitErr = cmd.Wait()
		close(proc.done)
	}()
	p.mu.Lock()
	p.procs = append(p.procs, proc)
	p.mu.Unlock()
	p.t.Cleanup(func() {
		if p.t.Failed() {
			p.t.Logf("---- %s output ----\n%s", name, out.String())
		}
	})
	return proc
}

// StartAPI starts the api and waits until it answers /healthz.
func (p *Platform) StartAPI() *Proc {
	p.t.Helper()
	proc := p.Start("api", "api", nil)
	require.Eventually(p.t, func() bool {
		resp, err := http.Get(p.APIURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "api did not become healthy:\n%s", proc.out.String())
	return proc
}

// StartWithMetrics starts a role that serves /metrics on a free local port, and returns the
// process and the metrics URL.
func (p *Platform) StartWithMetrics(name, bin string, args ...string) (*Proc, string) {
	p.t.Helper()
	addr := freeAddr(p.t)
	proc := p.Start(name, bin, []string{"VIGIL_METRICS_ADDR=" + addr}, args...)
	return proc, "http://" + addr + "/metrics"
}

// Scrape reads a role's /metrics and returns the sum of the series of name whose labels
// include match (nil: all), and whether the metric was there at all.
func (p *Platform) Scrape(url, name string, match map[string]string) (float64, bool) {
	p.t.Helper()
	resp, err := http.Get(url)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	require.Equal(p.t, http.StatusOK, resp.StatusCode)
	families, err := metrics.ParseText(resp.Body)
	require.NoError(p.t, err)
	return metrics.Sum(families, name, match)
}

// Kill sends SIGKILL, as a crash would.
func (pr *Proc) Kill() {
	if err := pr.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		panic(fmt.Sprintf("e2e: kill %s: %v", pr.Name, err))
	}
	<-pr.done
}

// Stop sends SIGTERM and waits for a graceful exit.
func (pr *Proc) Stop(timeout time.Duration) error {
	if err := pr.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-pr.done:
		return nil
	case <-time.After(timeout):
		pr.Kill()
		return fmt.Errorf("%s did not stop within %s", pr.Name, timeout)
	}
}

// Output is what the process printed so far.
func (pr *Proc) Output() string { return pr.out.String() }

func (p *Platform) stopAll() {
	p.mu.Lock()
	procs := p.procs
	p.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		select {
		case <-procs[i].done:
		default:
			if err := procs[i].Stop(15 * time.Second); err != nil {
				p.t.Logf("e2e: %v", err)
			}
		}
	}
}

// Do sends an authenticated API request with a JSON body and returns the status and body.
func (p *Platform) Do(method, path, body string) (int, []byte) {
	p.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, p.APIURL+path, r)
	require.NoError(p.t, err)
	req.Header.Set("Authorization", "Bearer "+p.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, b
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func influxExec(t *testing.T, q string) {
	resp, err := http.PostForm("http://127.0.0.1:8086/query", map[string][]string{"q": {q}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "influx %s", q)
}
