package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/probe"
	"github.com/vigil-monitor/vigil/pkg/webhook"
)

func TestPostSignsAndSucceedsOn2xx(t *testing.T) {
	t.Parallel()
	type got struct {
		header http.Header
		body   []byte
	}
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	allow, err := probe.ParseAllowList("127.0.0.1/32")
	require.NoError(t, err)
	c := webhook.New(probe.NewGuard(allow).Client(5*time.Second), "topsecret")
	body := []byte(`{"event":"down"}`)
	require.NoError(t, c.Post(context.Background(), webhook.Delivery{URL: srv.URL + "/hook", Event: "down", ID: "n1", Body: body}))
	g := <-ch
	require.Equal(t, body, g.body)
	require.Equal(t, "application/json", g.header.Get("Content-Type"))
	require.Equal(t, "down", g.header.Get(webhook.EventHeader))
	require.Equal(t, "n1", g.header.Get(webhook.DeliveryHeader))
	require.True(t, webhook.Verify([]byte("topsecret"), g.body, g.header.Get(webhook.SignatureHeader)))
	require.False(t, webhook.Verify([]byte("other"), g.body, g.header.Get(webhook.SignatureHeader)))
}

func TestPostErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	allow, err := probe.ParseAllowList("127.0.0.1/32")
	require.NoError(t, err)
	c := webhook.New(probe.NewGuard(allow).Client(5*time.Second), "s")
	err = c.Post(context.Background(), webhook.Delivery{URL: srv.URL + "/T000/B000/secret-token", Body: []byte("{}")})
	require.ErrorContains(t, err, "502")
	require.NotContains(t, err.Error(), "secret-token")

	// Without an allow list the guard refuses loopback: a webhook cannot reach the private network.
	guarded := webhook.New(probe.NewGuard(nil).Client(5*time.Second), "s")
	err = guarded.Post(context.Background(), webhook.Delivery{URL: srv.URL + "/x", Body: []byte("{}")})
	require.Error(t, err)
}

func TestIsSlackAndRedact(t *testing.T) {
	t.Parallel()
	require.True(t, webhook.IsSlack("https://hooks.slack.com/services/T/B/x"))
	require.False(t, webhook.IsSlack("https://example.com/hooks.slack.com"))
	require.Equal(t, "https://hooks.slack.com/services/…", webhook.Redact("https://hooks.slack.com/services/T/B/xyz?a=b"))
	require.Equal(t, "https://example.com/hook", webhook.Redact("https://user:pw@example.com/hook"))
}
