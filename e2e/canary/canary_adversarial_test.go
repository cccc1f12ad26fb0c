// Package canary plants secrets in every place a user or an operator gives Vigil one, runs the
// real flow in one process (API, scheduler, worker, InfluxDB writer, notifier, SMTP), and greps
// everything Vigil writes for them.
package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
	"github.com/vigil-monitor/vigil/pkg/httpapi"
	"github.com/vigil-monitor/vigil/pkg/influxdb"
	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/notifier"
	"github.com/vigil-monitor/vigil/pkg/notify"
	"github.com/vigil-monitor/vigil/pkg/notify/email"
	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/scheduler"
	"github.com/vigil-monitor/vigil/pkg/worker"
)

const (
	influxURL = "http://127.0.0.1:8086"
	// influxDB is a database of this test's own, so that its website ids do not count against
	// the shared database's tag limits.
	influxDB = "vigil_canary_test"
	region   = "eu"
)

func randomHex(t *testing.T) string {
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// TestCanarySecrets plants canaries in a website URL's userinfo, a custom request header, the
// SMTP password and API keys (a good one and guessed ones), runs a check of a failing target
// all the way to an email, and requires that no canary appears in a log line, an API error
// body, an InfluxDB tag or field, a Redis value other than the check job itself, or the email.
//
// The job is the exception, by design: a worker must send the header and the URL's
// credentials to the target, so the job in the region's check stream carries them. The test
// pins that down (the canaries are in the check stream's job field and nowhere else in Redis)
// and docs/operations.md says that Redis holds probe credentials in transit and must be
// protected like the database.
func TestCanarySecrets(t *testing.T) {
	// Every call has a deadline, so that a stalled service fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	salt := randomHex(t)
	canaries := map[string]string{
		"url password":  "CANARYPASS" + salt,
		"header value":  "CANARYHDR" + salt,
		"smtp password": "CANARYSMTP" + salt,
		"api key":       "vgl_CANARYKEY" + salt,
		"guessed key":   "vgl_CANARYGUESS" + salt,
		"webhook key":   "CANARYHOOK" + salt,
	}
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Stores.
	dbURL := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	keys := queue.Keys{Prefix: "test-canary-" + salt}
	t.Cleanup(func() {
		c := context.Background()
		iter := rdb.Scan(c, 0, keys.Prefix+":*", 1000).Iterator()
		for iter.Next(c) {
			require.NoError(t, rdb.Del(c, iter.Val()).Err())
		}
		require.NoError(t, iter.Err())
		require.NoError(t, rdb.Close())
	})
	resp, err := http.PostForm(influxURL+"/query", url.Values{"q": {"CREATE DATABASE " + influxDB}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	// The target fails every check, and records what it was sent.
	var gotAuth atomic.Value
	var sawUserinfo atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); ok && p == canaries["url password"] {
			sawUserinfo.Store(true)
		} else {
			gotAuth.Store(r.Header.Get("Authorization"))
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(target.Close)
	var hookMu sync.Mutex
	var hookBodies []string
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, fmt.Sprint(r.Header)+string(b))
		hookMu.Unlock()
	}))
	t.Cleanup(hooks.Close)
	guard := probe.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})

	// The API, with an operator-chosen key (VIGIL_API_KEY) as the canary.
	api, err := httpapi.New(httpapi.Params{DB: postgres.NewDB(pool), Logger: log, CheckTarget: guard.CheckURL, AuthFailLimit: 10})
	require.NoError(t, err)
	apiSrv := httptest.NewServer(api.Handler())
	t.Cleanup(apiSrv.Close)
	_, err = postgres.NewAPIKeyStore(pool).Ensure(ctx, "env", canaries["api key"])
	require.NoError(t, err)
	var bodies []string
	call := func(method, path, key, body string) (int, string) {
		req, err := http.NewRequest(method, apiSrv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := apiSrv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if resp.StatusCode >= 400 {
			bodies = append(bodies, string(b))
		}
		return resp.StatusCode, string(b)
	}
	key := canaries["api key"]
	hdr := canaries["header value"]
	userinfoURL := strings.Replace(target.URL, "http://", "http://monitor:"+canaries["url password"]+"@", 1) + "/health"

	code, body := call("POST", "/regions", key, `{"name":"`+region+`"}`)
	require.Equal(t, http.StatusCreated, code, body)
	for range 3 { // a few guesses, some with the canary in other places
		code, _ = call("GET", "/websites", canaries["guessed key"], "")
		require.Equal(t, http.StatusUnauthorized, code)
	}
	// The API refuses credentials in URLs, and its answer does not repeat them.
	code, _ = call("POST", "/websites", key, `{"name":"userinfo","url":"`+userinfoURL+`"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	// Bad input around a secret header: the error names the field, not the value.
	code, _ = call("POST", "/websites", key, `{"name":"bad","url":"`+target.URL+`","headers":{"Authorization":"Bearer `+hdr+`\r\nX: y"}}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _ = call("POST", "/websites", key, `{"name":"bad","url":"`+target.URL+`","headers":{"Authorization":"Bearer `+hdr+`"},"interval_seconds":"x"}`)
	require.Equal(t, http.StatusBadRequest, code)
	code, body = call("POST", "/websites", key, `{"name":"with header","url":"`+target.URL+`/health","headers":{"Authorization":"Bearer `+hdr+`"},
		"interval_seconds":10,"timeout_ms":2000,"confirmations_down":1,"alert_emails":["ops@example.com"],"webhooks":["`+hooks.URL+`/hook"],"regions":["`+region+`"]}`)
	require.Equal(t, http.StatusCreated, code, body)
	// The API answers the header to the key holder who set it (GET /websites/:id): that is the
	// configuration, not a leak; only error bodies are checked.

	// A website whose URL carries credentials anyway: stored before the API refused them, or
	// written by another tool. The worker still runs it, and must not spread the password.
	// A closed port (connection refused) and a redirect to a URL with credentials take the
	// error paths, whose messages are the likeliest to quote a URL.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := strings.Replace(closed.URL, "http://", "http://monitor:"+canaries["url password"]+"@", 1) + "/"
	closed.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, closedURL+"elsewhere?token="+canaries["url password"], http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	store := postgres.NewWebsiteStore(pool)
	for i, u := range []string{userinfoURL, closedURL, redirect.URL + "/"} {
		_, err := store.Create(ctx, postgres.Website{Website: monitor.Website{
			Name: fmt.Sprintf("direct %d", i), URL: u, Method: "GET", Headers: map[string]string{"X-Token": hdr},
			IntervalSeconds: 10, TimeoutMS: 2000, ExpectedStatus: "200-399", Enabled: true,
			AlertEmails: []string{"ops@example.com"}, ConfirmationsDown: 1, ConfirmationsUp: 1, RetryIntervalSeconds: 5,
			Regions: []string{region},
		}})
		require.NoError(t, err)
	}
	var ids []string
	require.NoError(t, pgxscan(ctx, pool, &ids))
	require.Len(t, ids, 4)

	// Scheduler, worker and notifier, in this process.
	sched, err := scheduler.New(scheduler.Params{DB: postgres.NewDB(pool),
		Dispatcher: queue.NewDispatcher(rdb, queue.DispatcherParams{Keys: keys}), RegionKeys: queue.NewRegionKeys(rdb, keys),
		Logger: log, Instance: "canary",
		Tick: 25 * time.Millisecond, LeaderRetry: 200 * time.Millisecond, LeaderPing: 200 * time.Millisecond})
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(cancel)
	wg.Go(func() {
		if err := sched.Run(ctx); err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
	writer := influxdb.NewWriter(influxdb.WriterParams{URL: influxURL, Bucket: influxDB + "/autogen", FlushInterval: 100 * time.Millisecond, Logger: log})
	w, err := worker.New(worker.Params{
		Region:   region,
		Consumer: queue.NewConsumer(rdb, queue.ConsumerParams{Keys: keys, Region: region, Name: "canary", Block: 50 * time.Millisecond, Logger: log}),
		States:   queue.NewStateStore(rdb, queue.StateParams{Keys: keys, Region: region}),
		Prober:   probe.NewRegistry(guard),
		Writer:   writer,
		Logger:   log,
	})
	require.NoError(t, err)
	workerDone := make(chan struct{})
	wg.Go(func() {
		defer close(workerDone)
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})

	sink, err := smtpsink.Start("127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sink.Close()) })
	sink.SetFailing(true) // the first delivery fails, so that the failure path logs too
	sender, err := email.NewSMTP(email.Config{Host: "127.0.0.1", Port: sink.Port(), Username: "vigil",
		Password: canaries["smtp password"], From: "vigil@example.com", TLS: email.TLSNone, Timeout: 5 * time.Second})
	require.NoError(t, err)
	var skew atomic.Int64 // the notifier's clock runs this far ahead
	events, err := queue.NewEventConsumer(rdb, keys, queue.EventConsumerParams{Consumer: "canary", Block: 50 * time.Millisecond})
	require.NoError(t, err)
	n, err := notifier.New(notifier.Params{DB: postgres.NewDB(pool), Events: events, Logger: log,
		Channels: notify.Registry{
			monitor.ChannelEmail:   sender,
			monitor.ChannelWebhook: webhook.New(guard.Client(5*time.Second), []byte(canaries["webhook key"]), nil),
		},
		BackoffBase: time.Minute, BackoffMax: time.Minute, PollInterval: 20 * time.Millisecond,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	require.NoError(t, err)
	wg.Go(func() { n.RunEvents(ctx) })

	// Both websites fail, are confirmed down, open incidents and queue an email each.
	require.Eventually(t, func() bool {
		var rows int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&rows))
		return rows >= 5 // 4 emails and a webhook
	}, 30*time.Second, 50*time.Millisecond, "no notifications; logs:\n%s", logs.String())
	_, err = n.SendDue(ctx)
	require.NoError(t, err)
	sink.SetFailing(false)
	skew.Store(int64(2 * time.Minute)) // past the backoff
	require.Eventually(t, func() bool {
		_, err := n.SendDue(ctx)
		require.NoError(t, err)
		return len(sink.Messages()) >= 4
	}, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, gotAuth.Load(), hdr, "the check really sent the secret header to the target")
	require.True(t, sawUserinfo.Load(), "the check really sent the URL's credentials to the target")

	cancel()
	<-workerDone
	writer.Close()
	wg.Wait()

	// Gather everything Vigil wrote.
	var points []string
	for _, id := range ids {
		resp, err := http.Get(influxURL + "/query?" + url.Values{"db": {influxDB},
			"q": {`SELECT * FROM /.*/ WHERE "website_id" = '` + id + `'`}}.Encode())
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		points = append(points, string(b))
	}
	require.Contains(t, strings.Join(points, ""), ids[0], "the checks' points are in InfluxDB")

	redisValues, jobValues := dumpRedis(t, rdb, keys)
	var mails []string
	for _, m := range sink.Messages() {
		mails = append(mails, string(m.Data))
	}
	hookMu.Lock()
	mails = append(mails, hookBodies...)
	require.NotEmpty(t, hookBodies, "the webhook was delivered")
	hookMu.Unlock()

	places := map[string]string{
		"log line":         logs.String(),
		"API error body":   strings.Join(bodies, "\n"),
		"InfluxDB point":   strings.Join(points, "\n"),
		"Redis value":      strings.Join(redisValues, "\n"),
		"email or webhook": strings.Join(mails, "\n"),
		"outbox row":       dumpTable(t, pool, "outbox"),
		"delivery attempt": dumpTable(t, pool, "notification_attempts"),
		"incident":         dumpTable(t, pool, "incidents") + dumpTable(t, pool, "region_downtimes"),
	}
	for what, canary := range canaries {
		for where, text := range places {
			require.NotContains(t, text, canary, "the %s canary is in a %s", what, where)
		}
	}
	require.NotEmpty(t, logs.String())
	if testing.Verbose() {
		t.Logf("points:\n%s\nredis:\n%s", places["InfluxDB point"], places["Redis value"])
	}

	// The one place that must hold them: the jobs, for the worker to send.
	jobs := strings.Join(jobValues, "\n")
	require.Contains(t, jobs, hdr, "the job carries the header the worker sends")
	require.Contains(t, jobs, canaries["url password"], "the job carries the URL the worker dials")
}

// dumpRedis returns every value under the test's prefix (streams entry by entry, hashes field by
// field, and so on), with the job field of the check streams' entries apart.
func dumpRedis(t *testing.T, rdb *redis.Client, keys queue.Keys) (values, jobs []string) {
	t.Helper()
	ctx := context.Background()
	var all []string
	iter := rdb.Scan(ctx, 0, keys.Prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		all = append(all, iter.Val())
	}
	require.NoError(t, iter.Err())
	sort.Strings(all)
	require.NotEmpty(t, all)
	for _, k := range all {
		typ, err := rdb.Type(ctx, k).Result()
		require.NoError(t, err)
		add := func(s string) { values = append(values, k+" "+s) }
		switch typ {
		case "string":
			v, err := rdb.Get(ctx, k).Result()
			require.NoError(t, err)
			add(v)
		case "hash":
			m, err := rdb.HGetAll(ctx, k).Result()
			require.NoError(t, err)
			add(fmt.Sprint(m))
		case "stream":
			msgs, err := rdb.XRange(ctx, k, "-", "+").Result()
			require.NoError(t, err)
			checks := strings.HasPrefix(k, keys.Prefix+":checks:")
			for _, m := range msgs {
				for f, v := range m.Values {
					if checks && f == queue.JobField {
						jobs = append(jobs, fmt.Sprint(v))
						continue
					}
					add(f + "=" + fmt.Sprint(v))
				}
			}
			groups, err := rdb.XInfoGroups(ctx, k).Result()
			require.NoError(t, err)
			add(fmt.Sprint(groups))
		case "zset":
			z, err := rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
			require.NoError(t, err)
			add(fmt.Sprint(z))
		case "set":
			s, err := rdb.SMembers(ctx, k).Result()
			require.NoError(t, err)
			add(fmt.Sprint(s))
		case "list":
			l, err := rdb.LRange(ctx, k, 0, -1).Result()
			require.NoError(t, err)
			add(fmt.Sprint(l))
		default:
			t.Fatalf("key %s has type %s, which the dump does not know", k, typ)
		}
	}
	return values, jobs
}

func dumpTable(t *testing.T, pool *pgxpool.Pool, table string) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(x::text, E'\n'), '') FROM `+table+` x`).Scan(&s))
	return s
}

func pgxscan(ctx context.Context, pool *pgxpool.Pool, ids *[]string) error {
	rows, err := pool.Query(ctx, `SELECT id::text FROM websites ORDER BY name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		*ids = append(*ids, id)
	}
	return rows.Err()
}
