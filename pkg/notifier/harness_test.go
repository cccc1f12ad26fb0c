package notifier_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notifier"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

const hookSecret = "webhook-test-secret"

// fakeClock is the notifier's clock in tests: it moves only when the test says so, so that
// backoff, leases and give-up are driven without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hookRequest is one request a webhook receiver got.
type hookRequest struct {
	Path   string
	Header http.Header
	Body   []byte
}

type harness struct {
	t     testing.TB
	ctx   context.Context
	pool  *pgxpool.Pool
	rdb   redis.UniversalClient
	keys  queue.Keys
	sink  *smtpsink.Sink
	clock *fakeClock
	t0    time.Time

	hookMu   sync.Mutex
	hookReqs []hookRequest
	hookURL  string
	// hookStatus is what the webhook receiver answers; 200 until a test sets it.
	hookStatus atomic.Int32
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, ctx: t.Context(), pool: pgtest.Pool(t)}
	h.rdb, h.keys = redistest.New(t)
	var err error
	h.sink, err = smtpsink.Start("127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.sink.Close()) })
	h.t0 = time.Now().UTC().Truncate(time.Second)
	h.clock = &fakeClock{t: h.t0}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.hookMu.Lock()
		h.hookReqs = append(h.hookReqs, hookRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		h.hookMu.Unlock()
		w.WriteHeader(int(h.hookStatus.Load()))
	}))
	h.hookStatus.Store(http.StatusOK)
	t.Cleanup(srv.Close)
	h.hookURL = srv.URL
	return h
}

func (h *harness) hooks() []hookRequest {
	h.hookMu.Lock()
	defer h.hookMu.Unlock()
	return append([]hookRequest(nil), h.hookReqs...)
}

// site describes a website to insert.
type site struct {
	name          string
	url           string
	regions       []string
	emails        []string
	webhooks      []string
	quorum        int
	alertRegional bool
}

func (h *harness) website(s site) string {
	h.t.Helper()
	if s.url == "" {
		s.url = "https://shop.example/health"
	}
	var id string
	require.NoError(h.t, h.pool.QueryRow(h.ctx, `INSERT INTO websites (name, url, all_regions, alert_emails, webhooks, quorum, alert_regional)
		VALUES ($1, $2, false, $3, $4, $5, $6) RETURNING id`,
		s.name, s.url, append([]string{}, s.emails...), append([]string{}, s.webhooks...), s.quorum, s.alertRegional).Scan(&id))
	for _, r := range s.regions {
		_, err := h.pool.Exec(h.ctx, `INSERT INTO regions (name) VALUES ($1) ON CONFLICT DO NOTHING`, r)
		require.NoError(h.t, err)
		_, err = h.pool.Exec(h.ctx, `INSERT INTO website_regions (website_id, region_id) SELECT $1, id FROM regions WHERE name = $2`, id, r)
		require.NoError(h.t, err)
	}
	return id
}

// notifier builds a notifier on the harness's stores, SMTP sink, webhook receiver and clock.
// Every call builds a new, independent instance, as a restarted process would be.
func (h *harness) notifier(mod ...func(*notifier.Params)) *notifier.Notifier {
	h.t.Helper()
	sender, err := email.NewSMTP(email.Config{Host: "127.0.0.1", Port: h.sink.Port(), From: "vigil@example.com", TLS: email.TLSNone, Timeout: 5 * time.Second})
	require.NoError(h.t, err)
	allow, err := probe.ParseAllowList("127.0.0.1/32")
	require.NoError(h.t, err)
	var b [4]byte
	_, err = rand.Read(b[:])
	require.NoError(h.t, err)
	events, err := queue.NewEventConsumer(h.rdb, h.keys, queue.EventConsumerParams{
		Consumer: "n-" + hex.EncodeToString(b[:]), Block: 50 * time.Millisecond, ClaimIdle: time.Minute,
	})
	require.NoError(h.t, err)
	p := notifier.Params{
		DB:     postgres.NewDB(h.pool),
		Events: events,
		Channels: notify.Registry{
			monitor.ChannelEmail:   sender,
			monitor.ChannelWebhook: webhook.New(probe.NewGuard(allow).Client(5*time.Second), []byte(hookSecret), h.clock.Now),
		},
		DefaultEmails: []string{"fallback@example.com"},
		DashboardURL:  "https://vigil.example/",
		SendTimeout:   5 * time.Second,
		BackoffBase:   10 * time.Second,
		BackoffMax:    10 * time.Minute,
		PollInterval:  10 * time.Millisecond,
		Now:           h.clock.Now,
		Rand:          func() float64 { return 0.5 },
	}
	for _, m := range mod {
		m(&p)
	}
	n, err := notifier.New(p)
	require.NoError(h.t, err)
	return n
}

// run runs n until the test ends (or stop is called) and waits for it to return.
func (h *harness) run(n *notifier.Notifier) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		require.NoError(h.t, n.Run(ctx))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				h.t.Error("notifier did not stop within 10s")
			}
		})
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) publish(tr monitor.Transition) {
	h.t.Helper()
	_, err := queue.AddTransitionEvent(h.ctx, h.rdb, h.keys, tr)
	require.NoError(h.t, err)
}

// at is the harness's start time plus d.
func (h *harness) at(d time.Duration) time.Time { return h.t0.Add(d) }

func down(websiteID, region string, at time.Time) monitor.Transition {
	return monitor.Transition{WebsiteID: websiteID, Region: region, From: monitor.StateUp, To: monitor.StateDown, At: at,
		Outcome: monitor.OutcomeDown, Reason: "status", Message: "HTTP 503", StatusCode: 503, ResponseMS: 42}
}

func up(websiteID, region string, at time.Time) monitor.Transition {
	return monitor.Transition{WebsiteID: websiteID, Region: region, From: monitor.StateDown, To: monitor.StateUp, At: at,
		Outcome: monitor.OutcomeUp, StatusCode: 200, ResponseMS: 17}
}

// waitMessages waits until the sink holds n messages and returns them.
func (h *harness) waitMessages(n int) []smtpsink.Message {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.sink.Messages()) >= n }, 10*time.Second, 10*time.Millisecond,
		"want %d messages", n)
	msgs := h.sink.Messages()
	require.Len(h.t, msgs, n)
	return msgs
}

// count runs a count(*) query.
func (h *harness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	require.NoError(h.t, h.pool.QueryRow(h.ctx, sql, args...).Scan(&n))
	return n
}

// barrier publishes an event for a fresh website and waits until the event loop applied it.
// The loop handles events in order, so everything published before has been handled too.
func (h *harness) barrier() {
	h.t.Helper()
	id := h.website(site{name: "barrier", regions: []string{"zz"}})
	h.publish(up(id, "zz", h.at(0)))
	require.Eventually(h.t, func() bool {
		return h.count(`SELECT count(*) FROM region_states WHERE website_id = $1`, id) == 1
	}, 10*time.Second, 10*time.Millisecond)
}

// received is a received message, decoded.
type received struct {
	To      []string
	Header  netmail.Header
	Subject string
	Text    string
	HTML    string
}

func decode(t *testing.T, m smtpsink.Message) received {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	require.NoError(t, err)
	e := received{To: m.To, Header: msg.Header}
	e.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		switch ct {
		case "text/plain":
			e.Text = string(body)
		case "text/html":
			e.HTML = string(body)
		}
	}
	return e
}
