package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/logging/logtest"
)

// A webhook can have a signing secret of its own. A plain URL (seed 003's payloads) is still a
// webhook; the secret is write-only (never in an answer, an error or a log), survives a client
// sending back the URLs it read, and goes when its URL goes or when it is set to "".
func TestWebhookSecrets(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	a := newTestAPI(t, func(p *Params) {
		p.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const (
		hookA  = "https://a.example/hook"
		hookB  = "https://b.example/hook"
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	)
	stored := func(id string) map[string]string {
		t.Helper()
		rows, err := a.pool.Query(context.Background(), `SELECT url, secret FROM webhook_secrets WHERE website_id = $1`, id)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var u, s string
			require.NoError(t, rows.Scan(&u, &s))
			out[u] = s
		}
		require.NoError(t, rows.Err())
		return out
	}
	answers := func(r response, urls []any, withSecret []any) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.NotContains(t, string(r.Raw), "whsec_", "a secret is never returned")
		w := r.JSON(t)
		require.Equal(t, urls, w["webhooks"])
		require.Equal(t, withSecret, w["webhooks_with_secret"])
	}

	// Seed 003's form: a list of URL strings.
	id := a.mustCreate("/websites", `{"name":"s","url":"https://s.example","webhooks":["`+hookA+`"]}`)
	answers(a.do("GET", "/websites/"+id, ""), []any{hookA}, []any{})

	// An object sets a secret; the answer says which webhook has one, never what it is.
	r := a.do("PATCH", "/websites/"+id, `{"webhooks":[{"url":"`+hookA+`","secret":"`+secret+`"},"`+hookB+`"]}`)
	answers(r, []any{hookA, hookB}, []any{hookA})
	require.Equal(t, map[string]string{hookA: secret}, stored(id))
	answers(a.do("GET", "/websites/"+id, ""), []any{hookA, hookB}, []any{hookA})
	list := a.do("GET", "/websites", "")
	require.Equal(t, http.StatusOK, list.Status)
	require.NotContains(t, string(list.Raw), "whsec_")

	// The dashboard's form sends the URLs back as strings; other changes leave webhooks alone.
	answers(a.do("PATCH", "/websites/"+id, `{"webhooks":["`+hookA+`","`+hookB+`"]}`), []any{hookA, hookB}, []any{hookA})
	answers(a.do("PATCH", "/websites/"+id, `{"name":"renamed"}`), []any{hookA, hookB}, []any{hookA})
	require.Equal(t, map[string]string{hookA: secret}, stored(id))

	// Refused secrets and entries name the webhook, never the secret.
	for _, body := range []string{
		`{"webhooks":[{"url":"` + hookA + `","secret":"whsec_dG9vLXNob3J0"}]}`,
		`{"webhooks":[{"url":"` + hookA + `","secret":"not-whsec-dG9vLXNob3J0dG9vLXNob3J0dG9vLXNob3J0"}]}`,
	} {
		r = a.do("PATCH", "/websites/"+id, body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
		_, fields := r.Err(t)
		require.Contains(t, fields["webhooks"], "secret of")
		require.NotContains(t, string(r.Raw), "dG9vLXNob3J0")
	}
	for _, body := range []string{
		`{"webhooks":[{"secret":"` + secret + `"}]}`,
		`{"webhooks":[{"url":"` + hookA + `","secret":"` + secret + `","extra":1}]}`,
		`{"webhooks":[{"url":"` + hookA + `","secret":42}]}`,
	} {
		r = a.do("PATCH", "/websites/"+id, body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
		require.NotContains(t, string(r.Raw), secret)
		_, fields := r.Err(t)
		require.Contains(t, fields["webhooks"], `"url"`)
	}
	require.Equal(t, map[string]string{hookA: secret}, stored(id), "a refused change changes nothing")

	// "" removes the secret: VIGIL_WEBHOOK_SECRET signs that webhook again.
	answers(a.do("PATCH", "/websites/"+id, `{"webhooks":[{"url":"`+hookA+`","secret":""},"`+hookB+`"]}`), []any{hookA, hookB}, []any{})
	require.Empty(t, stored(id))

	// A webhook that leaves the list takes its secret with it.
	a.do("PATCH", "/websites/"+id, `{"webhooks":[{"url":"`+hookA+`","secret":"`+secret+`"}]}`)
	require.Len(t, stored(id), 1)
	answers(a.do("PATCH", "/websites/"+id, `{"webhooks":["`+hookB+`"]}`), []any{hookB}, []any{})
	require.Empty(t, stored(id))
	answers(a.do("PATCH", "/websites/"+id, `{"webhooks":["`+hookA+`"]}`), []any{hookA}, []any{})

	// A secret can be given on create too.
	r = a.do("POST", "/websites", `{"name":"t","url":"https://t.example","webhooks":[{"url":"`+hookB+`","secret":"`+secret+`"}]}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
	require.NotContains(t, string(r.Raw), "whsec_")
	require.Equal(t, []any{hookB}, r.JSON(t)["webhooks_with_secret"])

	require.NotContains(t, logs.String(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a secret is never logged")
}
