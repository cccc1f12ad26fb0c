package main

import (
	"bytes"
	"context"
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/pkg/queue/redistest"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres/pgtest"
	"github.com/vigil-monitor/vigil/pkg/queue"
)

func TestHelpListsVariables(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &errOut)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, v := range []string{"SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASS", "SMTP_FROM", "VIGIL_SMTP_TLS",
		"VIGIL_DEFAULT_ALERT_EMAILS", "VIGIL_NOTIFY_GIVE_UP", "VIGIL_WEBHOOK_SECRET", "VIGIL_ALLOW_TARGETS",
		"VIGIL_DASHBOARD_URL", "DATABASE_URL", "REDIS_URL"} {
		require.Contains(t, out.String(), v)
	}
}

func TestBadConfigNamesTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"VIGIL_SMTP_TLS":             "sometimes",
		"VIGIL_DEFAULT_ALERT_EMAILS": "ops@example.com,not-an-address",
		"VIGIL_NOTIFY_GIVE_UP":       "0s",
		"SMTP_FROM":                  "nobody",
		"VIGIL_DASHBOARD_URL":        "ftp://x",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			var out, errOut bytes.Buffer
			err := run(context.Background(), nil, &out, &errOut)
			require.ErrorContains(t, err, name)
		})
	}
}

// TestRunNotifiesAndStops runs the binary's wiring against the local stores and an SMTP sink:
// a down transition is emailed to the default recipient, the password never reaches the log,
// and a cancel (SIGTERM) stops it cleanly.
func TestRunNotifiesAndStops(t *testing.T) {
	rdb, keys := redistest.New(t)
	sink, err := smtpsink.Start("127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sink.Close()) })
	dbURL := pgtest.URL(t)
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("VIGIL_REDIS_PREFIX", keys.Prefix)
	t.Setenv("SMTP_HOST", "127.0.0.1")
	t.Setenv("SMTP_PORT", strconv.Itoa(sink.Port()))
	t.Setenv("SMTP_USER", "vigil")
	t.Setenv("SMTP_PASS", "pa55-w0rd-secret")
	t.Setenv("SMTP_FROM", "vigil@example.com")
	t.Setenv("VIGIL_SMTP_TLS", "none")
	t.Setenv("VIGIL_DEFAULT_ALERT_EMAILS", "oncall@example.com")
	t.Setenv("VIGIL_LOG_LEVEL", "debug")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, &out, &errOut) }()

	// The notifier migrates at start; wait for the schema before inserting a website.
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var id string
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `WITH r AS (INSERT INTO regions (name) VALUES ('eu'))
			INSERT INTO websites (name, url) VALUES ('Main', 'https://main.example') RETURNING id`).Scan(&id) == nil
	}, 10*time.Second, 20*time.Millisecond)
	_, err = queue.AddTransitionEvent(ctx, rdb, keys, monitor.Transition{WebsiteID: id, Region: "eu", From: monitor.StateUp,
		To: monitor.StateDown, At: time.Now().Add(-time.Minute), Outcome: monitor.OutcomeTimeout, Message: "no answer in 10s"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(sink.Messages()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{"oncall@example.com"}, sink.Messages()[0].To)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("notifier did not stop")
	}
	require.Contains(t, errOut.String(), "notifier stopped")
	require.NotContains(t, errOut.String(), "pa55-w0rd-secret")
}
