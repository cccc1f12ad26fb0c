package e2e

// Helpers of the fault suite (faults_test.go): a whole platform with short intervals, private
// copies of the stores that a test may break (Redis, InfluxDB, a cuttable TCP path to
// PostgreSQL), and readers of what the platform left behind (the region streams, the InfluxDB
// series, the roles' metrics and memory).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Settings every fault test shares: checks every 10 s, a reclaim two seconds after a job's own
// timeout, a standby that tries the leader lock every second.
const (
	faultInterval     = 10 * time.Second
	faultReclaimGrace = 2 * time.Second
	// faultReclaimEvery is how often a worker looks for abandoned jobs with faultReclaimGrace:
	// the worker's default, grace/4.
	faultReclaimEvery = faultReclaimGrace / 4
)

// faultsFull reports whether the long versions of the fault cases were asked for.
func faultsFull() bool { return os.Getenv("VIGIL_FAULTS_FULL") == "1" }

// recovery is one measured recovery time, collected for docs/reliability.md.
func logMeasure(t *testing.T, what string, v any) {
	t.Helper()
	t.Logf("MEASURE %s: %s = %v", t.Name(), what, v)
}

// faultPlatform is a Platform with the helpers the fault cases need.
type faultPlatform struct {
	*Platform
	Prefix    string
	RedisAddr string
	InfluxURL string
	InfluxDB  string
	Sink      *smtpsink.Sink
	rdb       *redis.Client

	mu      sync.Mutex
	metrics map[*Proc]string // metrics address of each role started with one
}

// newFaultPlatform prepares an install with short settings; apply overrides (private stores)
// with SetEnv before starting roles.
func newFaultPlatform(t *testing.T) *faultPlatform {
	t.Helper()
	p := NewPlatform(t)
	fp := &faultPlatform{Platform: p, metrics: map[*Proc]string{}}
	fp.Prefix = fp.env("VIGIL_REDIS_PREFIX")
	fp.RedisAddr = "127.0.0.1:6379"
	fp.InfluxURL = fp.env("INFLUXDB_URL")
	fp.InfluxDB = strings.TrimSuffix(fp.env("INFLUXDB_BUCKET"), "/autogen")
	fp.SetEnv("VIGIL_MIN_INTERVAL_SECONDS", "10")
	fp.SetEnv("VIGIL_RECLAIM_GRACE", faultReclaimGrace.String())
	fp.SetEnv("VIGIL_LEADER_RETRY", "1s")
	fp.SetEnv("VIGIL_SHUTDOWN_TIMEOUT", "10s")
	fp.SetEnv("VIGIL_LOG_LEVEL", "info")
	return fp
}

// env returns the value the platform gives a variable.
func (fp *faultPlatform) env(key string) string {
	for i := len(fp.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(fp.Env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// SetEnv sets a variable for every role started afterwards.
func (fp *faultPlatform) SetEnv(key, value string) {
	fp.Env = slices.DeleteFunc(fp.Env, func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
	fp.Env = append(fp.Env, key+"="+value)
}

// UseRedis points the platform at another Redis (a private one the test may restart).
func (fp *faultPlatform) UseRedis(addr string) {
	fp.RedisAddr = addr
	fp.SetEnv("REDIS_URL", "redis://"+addr+"/0")
}

// UseInflux points the platform at another InfluxDB and creates the platform's database there.
func (fp *faultPlatform) UseInflux(baseURL string) {
	fp.InfluxURL = baseURL
	fp.SetEnv("INFLUXDB_URL", baseURL)
	fp.influxQuery(fp.t, "", "CREATE DATABASE "+fp.InfluxDB)
}

// UseDatabaseVia routes the platform's PostgreSQL connections through addr (a tcpProxy).
func (fp *faultPlatform) UseDatabaseVia(addr string) {
	u, err := url.Parse(fp.env("DATABASE_URL"))
	require.NoError(fp.t, err)
	u.Host = addr
	fp.SetEnv("DATABASE_URL", u.String())
}

// Redis is a client of the platform's Redis.
func (fp *faultPlatform) Redis() *redis.Client {
	if fp.rdb == nil {
		fp.rdb = redis.NewClient(&redis.Options{Addr: fp.RedisAddr, ContextTimeoutEnabled: true})
		fp.t.Cleanup(func() { fp.rdb.Close() })
	}
	return fp.rdb
}

// startRole starts a role with its own metrics address and waits until it is ready.
func (fp *faultPlatform) startRole(name, bin string, extra []string, args ...string) *Proc {
	fp.t.Helper()
	addr := freeAddr(fp.t)
	extra = append([]string{"VIGIL_METRICS_ADDR=" + addr}, extra...)
	pr := fp.Start(name, bin, extra, args...)
	fp.mu.Lock()
	fp.metrics[pr] = addr
	fp.mu.Unlock()
	require.Eventually(fp.t, func() bool {
		select {
		case <-pr.done:
			return true // reported below
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "%s not ready", name)
	select {
	case <-pr.done:
		fp.t.Fatalf("%s exited at start: %v\n%s", name, pr.exitErr, pr.Output())
	default:
	}
	return pr
}

// StartScheduler starts a scheduler.
func (fp *faultPlatform) StartScheduler(name string, extra ...string) *Proc {
	return fp.startRole(name, "scheduler", extra)
}

// StartWorker starts a worker of region whose consumer name is name.
func (fp *faultPlatform) StartWorker(name, region string, extra ...string) *Proc {
	return fp.startRole(name, "worker", append([]string{"VIGIL_WORKER_CONSUMER=" + name}, extra...), "--region", region)
}

// StartSink starts the in-process SMTP sink the notifier sends to.
func (fp *faultPlatform) StartSink() *smtpsink.Sink {
	s, err := smtpsink.Start("127.0.0.1:0", "")
	require.NoError(fp.t, err)
	fp.t.Cleanup(func() { s.Close() })
	fp.Sink = s
	return s
}

// StartNotifier starts a notifier that sends to the sink.
func (fp *faultPlatform) StartNotifier(name string, extra ...string) *Proc {
	require.NotNil(fp.t, fp.Sink, "start the sink first")
	env := append([]string{
		"SMTP_HOST=127.0.0.1", "SMTP_PORT=" + strconv.Itoa(fp.Sink.Port()), "VIGIL_SMTP_TLS=none",
		"VIGIL_NOTIFIER_CONSUMER=" + name, "VIGIL_NOTIFY_SEND_TIMEOUT=5s", "VIGIL_EVENTS_CLAIM_IDLE=3s",
	}, extra...)
	return fp.startRole(name, "notifier", env)
}

// MetricsAddr is where pr serves /metrics.
func (fp *faultPlatform) MetricsAddr(pr *Proc) string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.metrics[pr]
}

// Metric sums the samples of name whose labels contain every one of labels (`region="europe"`),
// as pr serves them now; ok is false if pr did not answer.
func (fp *faultPlatform) Metric(pr *Proc, name string, labels ...string) (float64, bool) {
	resp, err := http.Get("http://" + fp.MetricsAddr(pr) + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, true
}

// Leader returns which of the schedulers leads now (vigil_scheduler_leader 1), or nil.
func (fp *faultPlatform) Leader(scheds ...*Proc) *Proc {
	for _, s := range scheds {
		select {
		case <-s.done:
			continue
		default:
		}
		if v, ok := fp.Metric(s, "vigil_scheduler_leader"); ok && v == 1 {
			return s
		}
	}
	return nil
}

// CreateRegions creates regions through the API.
func (fp *faultPlatform) CreateRegions(names ...string) {
	fp.t.Helper()
	for _, n := range names {
		code, body := fp.Do(http.MethodPost, "/regions", `{"name":"`+n+`"}`)
		require.Equal(fp.t, http.StatusCreated, code, "create region %s: %s", n, body)
	}
}

// CreateWebsite creates a website through the API from a JSON object of its fields and returns
// its id. Interval 10 s unless fields say otherwise.
func (fp *faultPlatform) CreateWebsite(fields map[string]any) string {
	fp.t.Helper()
	in := map[string]any{"name": "fault", "interval_seconds": int(faultInterval / time.Second)}
	for k, v := range fields {
		in[k] = v
	}
	b, err := json.Marshal(in)
	require.NoError(fp.t, err)
	code, body := fp.Do(http.MethodPost, "/websites", string(b))
	require.Equal(fp.t, http.StatusCreated, code, "create website: %s", body)
	var out struct{ ID string }
	require.NoError(fp.t, json.Unmarshal(body, &out))
	return out.ID
}

// streamJob is one entry of a region's check stream.
type streamJob struct {
	ID  string
	Job monitor.Job
}

// StreamJobs reads a region's whole check stream.
func (fp *faultPlatform) StreamJobs(region string) []streamJob {
	fp.t.Helper()
	msgs, err := fp.Redis().XRange(context.Background(), fp.Prefix+":checks:"+region, "-", "+").Result()
	require.NoError(fp.t, err)
	out := make([]streamJob, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["job"].(string)
		var j monitor.Job
		require.NoError(fp.t, json.Unmarshal([]byte(s), &j), "entry %s", m.ID)
		out = append(out, streamJob{ID: m.ID, Job: j})
	}
	return out
}

// duplicateDues lists the (website, due time) pairs that appear more than once in jobs.
func duplicateDues(jobs []streamJob) []string {
	seen := map[string]int{}
	var dups []string
	for _, j := range jobs {
		if j.Job.Retry {
			continue // a confirmation retry carries the due time of the retry, not the schedule
		}
		k := j.Job.WebsiteID + "@" + strconv.FormatInt(j.Job.DueAt, 10)
		seen[k]++
		if seen[k] == 2 {
			dups = append(dups, k)
		}
	}
	return dups
}

// Pending is how many entries of region's stream are delivered but not acknowledged.
func (fp *faultPlatform) Pending(region string) int64 {
	res, err := fp.Redis().XPending(context.Background(), fp.Prefix+":checks:"+region, "vigil").Result()
	if err != nil {
		return -1
	}
	return res.Count
}

// GroupLag is how many entries of region's stream were never delivered (-1 if unknown).
func (fp *faultPlatform) GroupLag(region string) int64 {
	gs, err := fp.Redis().XInfoGroups(context.Background(), fp.Prefix+":checks:"+region).Result()
	if err != nil || len(gs) == 0 {
		return -1
	}
	return gs[0].Lag
}

// influxQuery runs an InfluxQL statement against the platform's InfluxDB and returns the rows
// of the first series of each statement's result, times in unix ms.
func (fp *faultPlatform) influxQuery(t *testing.T, db, q string) []influxSeries {
	t.Helper()
	form := url.Values{"q": {q}, "epoch": {"ms"}}
	if db != "" {
		form.Set("db", db)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fp.InfluxURL+"/query", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "influx %s: %s", q, body)
	var out struct {
		Results []struct {
			Series []influxSeries `json:"series"`
			Error  string         `json:"error"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(body, &out), "influx %s: %s", q, body)
	var series []influxSeries
	for _, r := range out.Results {
		require.Empty(t, r.Error, "influx %s", q)
		series = append(series, r.Series...)
	}
	return series
}

type influxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// PointTimes returns, per "website_id/region", the sorted times (unix ms) of its check points.
func (fp *faultPlatform) PointTimes() map[string][]int64 {
	fp.t.Helper()
	series := fp.influxQuery(fp.t, fp.InfluxDB,
		`SELECT response_ms FROM "check" GROUP BY website_id, region`)
	out := map[string][]int64{}
	for _, s := range series {
		k := s.Tags["website_id"] + "/" + s.Tags["region"]
		for _, v := range s.Values {
			if f, ok := v[0].(float64); ok {
				out[k] = append(out[k], int64(f))
			}
		}
		slices.Sort(out[k])
	}
	return out
}

// PointCount is the number of check points in the platform's database.
func (fp *faultPlatform) PointCount() int {
	n := 0
	for _, ts := range fp.PointTimes() {
		n += len(ts)
	}
	return n
}

// maxGap is the longest time between consecutive points of ts at or after from (unix ms).
func maxGap(ts []int64, from int64) time.Duration {
	var gap int64
	prev := int64(-1)
	for _, t := range ts {
		if t < from {
			continue
		}
		if prev >= 0 {
			gap = max(gap, t-prev)
		}
		prev = t
	}
	return time.Duration(gap) * time.Millisecond
}

// rssBytes is the resident memory of pr now.
func rssBytes(t *testing.T, pr *Proc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pr.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for %s", pr.Name)
	return 0
}

// Alive reports whether pr still runs.
func (pr *Proc) Alive() bool {
	select {
	case <-pr.done:
		return false
	default:
		return true
	}
}

// slowTarget is a local HTTP target that answers 200 after delay.
func slowTarget(t *testing.T, delay time.Duration) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// switchTarget is a local HTTP target whose answer the test switches between 200 and 503.
type switchTarget struct {
	URL  string
	mu   sync.Mutex
	fail bool
}

func newSwitchTarget(t *testing.T) *switchTarget {
	t.Helper()
	st := &switchTarget{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st.mu.Lock()
		fail := st.fail
		st.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	st.URL = "http://" + ln.Addr().String() + "/"
	return st
}

// SetDown makes the target answer 503 (true) or 200 (false).
func (st *switchTarget) SetDown(down bool) {
	st.mu.Lock()
	st.fail = down
	st.mu.Unlock()
}

// freePort is a TCP port nobody listens on now.
func freePort(t *testing.T) int {
	_, p, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return n
}

// privateRedis is a redis-server of the test's own, without persistence, that the test may
// kill and start again empty on the same port.
type privateRedis struct {
	t    *testing.T
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	r := &privateRedis{t: t, Port: freePort(t)}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

func (r *privateRedis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Start runs the server and waits until it answers.
func (r *privateRedis) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", r.t.TempDir())
	require.NoError(r.t, r.cmd.Start())
	done := make(chan struct{})
	r.done = done
	go func(c *exec.Cmd) { _ = c.Wait(); close(done) }(r.cmd) // exit status of a killed server says nothing
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	require.Eventually(r.t, func() bool { return c.Ping(context.Background()).Err() == nil },
		10*time.Second, 10*time.Millisecond, "private redis did not start")
}

// Kill stops the server with SIGKILL: its data is gone.
func (r *privateRedis) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill() // already gone is fine
	<-r.done
	r.cmd = nil
}

// privateInflux is an influxd 1.8 of the test's own (data in a temp dir), which the test may
// stop and start again with its data.
type privateInflux struct {
	t    *testing.T
	URL  string
	conf string
	cmd  *exec.Cmd
	done chan struct{}
	log  *logtest.Buffer
}

func startPrivateInflux(t *testing.T) *privateInflux {
	t.Helper()
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	require.NoError(t, err)
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "influxd")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("influxd not installed at %s (scripts/stack up installs it)", bin)
	}
	dir := t.TempDir()
	httpAddr, rpcAddr := freeAddr(t), freeAddr(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  enabled = true
  bind-address = %q
  flux-enabled = true
  log-enabled = false
  auth-enabled = false
[continuous_queries]
  enabled = false
[monitor]
  store-enabled = false
`, rpcAddr, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpAddr)
	path := filepath.Join(dir, "influxdb.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	in := &privateInflux{t: t, URL: "http://" + httpAddr, conf: bin + "\x00" + path, log: &logtest.Buffer{}}
	in.Start()
	t.Cleanup(func() {
		in.Stop()
		if t.Failed() {
			t.Logf("---- private influxd ----\n%s", in.log.String())
		}
	})
	return in
}

// Start runs influxd and waits until it answers /ping.
func (in *privateInflux) Start() {
	in.t.Helper()
	bin, conf, _ := strings.Cut(in.conf, "\x00")
	in.cmd = exec.Command(bin, "-config", conf)
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	require.NoError(in.t, in.cmd.Start())
	done := make(chan struct{})
	in.done = done
	go func(c *exec.Cmd) { _ = c.Wait(); close(done) }(in.cmd) // a stopped server's status says nothing
	require.Eventually(in.t, func() bool {
		resp, err := http.Get(in.URL + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	}, 30*time.Second, 20*time.Millisecond, "private influxd did not start:\n%s", in.log.String())
}

// Stop stops influxd (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (in *privateInflux) Stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM) // already gone is fine
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	in.cmd = nil
}

// tcpProxy forwards a local port to a backend, and can be cut: Down closes every connection
// and refuses new ones (the listener is closed), Up listens again on the same port. To the
// platform it looks like the backend stopped and came back.
type tcpProxy struct {
	t       *testing.T
	Addr    string
	backend string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	// stall makes new connections hang: accepted, never forwarded, never answered.
	stall bool
	held  int
}

func startTCPProxy(t *testing.T, backend string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, Addr: freeAddr(t), backend: backend, conns: map[net.Conn]struct{}{}}
	p.Up()
	t.Cleanup(p.Down)
	return p
}

// Up starts accepting again.
func (p *tcpProxy) Up() {
	p.t.Helper()
	var ln net.Listener
	require.Eventually(p.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.Addr)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "proxy: listen on %s again", p.Addr)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.accept(ln)
}

// Down closes the listener and every open connection.
func (p *tcpProxy) Down() {
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

func (p *tcpProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.serve(ln, c)
	}
}

// Stall makes the proxy accept new connections and then hold them without a word (on) or
// forward them again (off), like a server that hangs mid-conversation.
func (p *tcpProxy) Stall(on bool) {
	p.mu.Lock()
	p.stall = on
	p.mu.Unlock()
}

// Held is how many connections the proxy has accepted while stalling.
func (p *tcpProxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

func (p *tcpProxy) serve(ln net.Listener, c net.Conn) {
	p.mu.Lock()
	if p.stall {
		p.held++
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		return // closed by Down
	}
	p.mu.Unlock()
	b, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // cut while dialling
		p.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src) // ends when either side closes
		dst.Close()
		src.Close()
	}
	wg.Add(2)
	go pipe(b, c)
	go pipe(c, b)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// mailSubjects groups the sink's messages by recipient: the decoded subjects each one got.
func mailSubjects(t *testing.T, msgs []smtpsink.Message) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	dec := new(mime.WordDecoder)
	for _, m := range msgs {
		msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
		require.NoError(t, err)
		subj, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		require.NoError(t, err)
		for _, to := range m.To {
			out[to] = append(out[to], subj)
		}
	}
	return out
}

// countPrefix counts the strings that start with prefix.
func countPrefix(ss []string, prefix string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// waitFor polls cond every 100 ms until it holds or timeout passes, and returns how long it
// took; the test fails with msg on timeout.
func waitFor(t *testing.T, timeout time.Duration, msg string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond) // polling interval, with a deadline above
	}
}
