package webhook_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/notify/webhook"
	"github.com/vigil-monitor/vigil/pkg/probe"
)

// The Standard Webhooks specification's own Go library's test vector: a receiver using any of
// its libraries accepts what Sign produces. The package doc quotes these values.
func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	sig := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name, secret string
		ok           bool
	}{
		{"24 bytes", "whsec_" + b64(24), true},
		{"64 bytes", "whsec_" + b64(64), true},
		{"23 bytes", "whsec_" + b64(23), false},
		{"65 bytes", "whsec_" + b64(65), false},
		{"no prefix", b64(32), false},
		{"not base64", "whsec_not*base64!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.ParseSecret(tt.secret)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, webhook.ErrSecret)
			if tt.secret != "" {
				require.NotContains(t, err.Error(), tt.secret, "an error never quotes the secret")
			}
		})
	}
	key, err := webhook.DefaultKey("a plain old secret")
	require.NoError(t, err)
	require.Equal(t, []byte("a plain old secret"), key, "a VIGIL_WEBHOOK_SECRET without whsec_ keeps its meaning")
}

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

func receiver(t *testing.T, status int) (url string, got <-chan received) {
	t.Helper()
	ch := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ch <- received{r.Header.Clone(), b}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func client(t *testing.T, defaultKey []byte, now func() time.Time) *webhook.Client {
	t.Helper()
	allow, err := probe.ParseAllowList("127.0.0.1/32")
	require.NoError(t, err)
	return webhook.New(probe.NewGuard(allow).Client(5*time.Second), defaultKey, now)
}

const ownSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestPostSignsAndSucceedsOn2xx(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, http.StatusNoContent)
	sent := time.Unix(1_700_000_000, 0)
	c := client(t, []byte("default-secret"), func() time.Time { return sent })
	body := []byte(`{"event":"down"}`)

	// A webhook with its own secret is signed with it; one without, with the default.
	require.NoError(t, c.Post(context.Background(), webhook.Delivery{URL: url + "/hook", Event: "down", ID: "n1", Body: body, Secret: ownSecret}))
	require.NoError(t, c.Post(context.Background(), webhook.Delivery{URL: url + "/hook", Event: "down", ID: "n2", Body: body}))
	own, def := <-got, <-got
	ownKey, err := webhook.ParseSecret(ownSecret)
	require.NoError(t, err)

	for _, g := range []received{own, def} {
		require.Equal(t, body, g.body)
		require.Equal(t, "application/json", g.header.Get("Content-Type"))
		require.Equal(t, "down", g.header.Get(webhook.EventHeader))
		require.Equal(t, g.header.Get(webhook.IDHeader), g.header.Get(webhook.DeliveryHeader))
		require.Equal(t, strconv.FormatInt(sent.Unix(), 10), g.header.Get(webhook.TimestampHeader))
		require.Empty(t, g.header.Get("X-Vigil-Signature"), "the replayable body-only signature is gone")
	}
	require.Equal(t, "n1", own.header.Get(webhook.IDHeader))
	require.NoError(t, webhook.Verify(ownKey, own.header, own.body, sent, 0))
	require.ErrorIs(t, webhook.Verify([]byte("default-secret"), own.header, own.body, sent, 0), webhook.ErrSignature)
	require.NoError(t, webhook.Verify([]byte("default-secret"), def.header, def.body, sent, 0))
	require.ErrorIs(t, webhook.Verify(ownKey, def.header, def.body, sent, 0), webhook.ErrSignature)

	// Without any secret the delivery is unsigned but still carries its id and timestamp.
	unsigned := client(t, nil, func() time.Time { return sent })
	require.NoError(t, unsigned.Post(context.Background(), webhook.Delivery{URL: url, Event: "down", ID: "n3", Body: body}))
	g := <-got
	require.Empty(t, g.header.Get(webhook.SignatureHeader))
	require.Equal(t, "n3", g.header.Get(webhook.IDHeader))
	require.ErrorIs(t, webhook.Verify([]byte("x"), g.header, g.body, sent, 0), webhook.ErrMissingHeaders)
}

// Verify, the receiver's side: what a delivery as sent passes, and what an attacker can do
// with a captured one does not.
func TestVerify(t *testing.T) {
	t.Parallel()
	key, err := webhook.ParseSecret(ownSecret)
	require.NoError(t, err)
	sent := time.Unix(1_700_000_000, 0)
	body := []byte(`{"event":"down","website":{"name":"shop"}}`)
	signed := func(id string, at time.Time, b []byte) http.Header {
		h := http.Header{}
		h.Set(webhook.IDHeader, id)
		h.Set(webhook.TimestampHeader, strconv.FormatInt(at.Unix(), 10))
		h.Set(webhook.SignatureHeader, webhook.Sign(key, id, at, b))
		return h
	}
	otherKey, err := webhook.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-of-24-bytes!")))
	require.NoError(t, err)

	tests := []struct {
		name   string
		key    []byte
		header func() http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"as sent", key, func() http.Header { return signed("n1", sent, body) }, body, sent, nil},
		{"a little later, within the tolerance", key, func() http.Header { return signed("n1", sent, body) }, body, sent.Add(4 * time.Minute), nil},
		{"a receiver clock a little behind", key, func() http.Header { return signed("n1", sent, body) }, body, sent.Add(-4 * time.Minute), nil},
		{"replayed an hour later with its old timestamp", key, func() http.Header { return signed("n1", sent, body) }, body, sent.Add(time.Hour), webhook.ErrTimestamp},
		{"replayed with a fresh timestamp but the old signature", key, func() http.Header {
			h := signed("n1", sent, body)
			h.Set(webhook.TimestampHeader, strconv.FormatInt(sent.Add(time.Hour).Unix(), 10))
			return h
		}, body, sent.Add(time.Hour), webhook.ErrSignature},
		{"a timestamp from the future", key, func() http.Header { return signed("n1", sent.Add(time.Hour), body) }, body, sent, webhook.ErrTimestamp},
		{"a timestamp that is not a number", key, func() http.Header {
			h := signed("n1", sent, body)
			h.Set(webhook.TimestampHeader, "yesterday")
			return h
		}, body, sent, webhook.ErrTimestamp},
		{"tampered body", key, func() http.Header { return signed("n1", sent, body) }, []byte(`{"event":"recovered","website":{"name":"shop"}}`), sent, webhook.ErrSignature},
		{"wrong id", key, func() http.Header {
			h := signed("n1", sent, body)
			h.Set(webhook.IDHeader, "n2")
			return h
		}, body, sent, webhook.ErrSignature},
		{"wrong secret", otherKey, func() http.Header { return signed("n1", sent, body) }, body, sent, webhook.ErrSignature},
		{"several signatures, one valid (a rotation)", key, func() http.Header {
			h := signed("n1", sent, body)
			h.Set(webhook.SignatureHeader, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,xyz "+h.Get(webhook.SignatureHeader))
			return h
		}, body, sent, nil},
		{"another scheme's signature only", key, func() http.Header {
			h := signed("n1", sent, body)
			h.Set(webhook.SignatureHeader, "v2,"+h.Get(webhook.SignatureHeader)[3:])
			return h
		}, body, sent, webhook.ErrSignature},
		{"no signature", key, func() http.Header {
			h := signed("n1", sent, body)
			h.Del(webhook.SignatureHeader)
			return h
		}, body, sent, webhook.ErrMissingHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(tt.key, tt.header(), tt.body, tt.now, 5*time.Minute)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// A retried delivery keeps its webhook-id, gets a new timestamp, and verifies at its own time.
func TestRetryKeepsID(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, http.StatusOK)
	at := time.Unix(1_700_000_000, 0)
	c := client(t, nil, func() time.Time { return at })
	d := webhook.Delivery{URL: url, Event: "down", ID: "0b5e2c1a-7f0e-4c1e-9d1b-2b8f0e9b1c11", Body: []byte(`{}`), Secret: ownSecret}
	require.NoError(t, c.Post(context.Background(), d))
	first := <-got
	at = at.Add(10 * time.Minute)
	require.NoError(t, c.Post(context.Background(), d))
	second := <-got
	require.Equal(t, first.header.Get(webhook.IDHeader), second.header.Get(webhook.IDHeader))
	require.NotEqual(t, first.header.Get(webhook.TimestampHeader), second.header.Get(webhook.TimestampHeader))
	key, err := webhook.ParseSecret(ownSecret)
	require.NoError(t, err)
	require.NoError(t, webhook.Verify(key, second.header, second.body, at, 0))
	require.ErrorIs(t, webhook.Verify(key, first.header, first.body, at, 0), webhook.ErrTimestamp, "the first attempt, replayed now, is refused")
}

func TestPostErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	c := client(t, []byte("s"), nil)
	err := c.Post(context.Background(), webhook.Delivery{URL: srv.URL + "/T000/B000/secret-token", ID: "n1", Body: []byte("{}")})
	require.ErrorContains(t, err, "502")
	require.NotContains(t, err.Error(), "secret-token")

	// A malformed own secret fails without being quoted; an id with a dot would make the
	// signed content ambiguous.
	err = c.Post(context.Background(), webhook.Delivery{URL: srv.URL, ID: "n1", Body: []byte("{}"), Secret: "whsec_short"})
	require.ErrorIs(t, err, webhook.ErrSecret)
	require.NotContains(t, err.Error(), "whsec_short")
	require.Error(t, c.Post(context.Background(), webhook.Delivery{URL: srv.URL, ID: "a.b", Body: []byte("{}")}))

	// Without an allow list the guard refuses loopback: a webhook cannot reach the private network.
	guarded := webhook.New(probe.NewGuard(nil).Client(5*time.Second), []byte("s"), nil)
	err = guarded.Post(context.Background(), webhook.Delivery{URL: srv.URL + "/x", ID: "n1", Body: []byte("{}")})
	require.Error(t, err)
}

func TestIsSlackAndRedact(t *testing.T) {
	t.Parallel()
	require.True(t, webhook.IsSlack("https://hooks.slack.com/services/T/B/x"))
	require.False(t, webhook.IsSlack("https://example.com/hooks.slack.com"))
	require.Equal(t, "https://hooks.slack.com/services/…", webhook.Redact("https://hooks.slack.com/services/T/B/xyz?a=b"))
	require.Equal(t, "https://example.com/hook", webhook.Redact("https://user:pw@example.com/hook"))
}
