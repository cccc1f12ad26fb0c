package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/probe"
)

// The API judges a URL's host as the worker's resolver will receive it (probe.Guard.CheckURL
// after IDNA normalisation): look-alikes of refused addresses, hosts that are no name,
// numbers in disputed forms and the clouds' metadata names are refused with a 422 on url and
// on webhooks.
func TestHostsRefusedAfterNormalisation(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, func(p *Params) { p.CheckTarget = probe.NewGuard(nil).CheckURL })
	for _, target := range []string{
		"http://a<b.example/",
		"http://a>b.example/",
		"http://１２７.０.０.１/",
		"http://127。0。0。1/",
		"http://00000127.0.0.1/",
		"http://134744072/",
		"http://ｌｏｃａｌｈｏｓｔ:8080/",
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://metadata/computeMetadata/v1/",
		"http://instance-data/latest/meta-data/",
		"http://ex\u202eample.com/",
	} {
		q, err := jsonString(target)
		require.NoError(t, err)
		r := a.do(http.MethodPost, "/websites", `{"name":"host","url":`+q+`}`)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", target, r.Raw)
		_, fields := r.Err(t)
		require.Contains(t, fields, "url", "%s: %s", target, r.Raw)

		r = a.do(http.MethodPost, "/websites", `{"name":"host","url":"https://example.com","webhooks":[`+q+`]}`)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", target, r.Raw)
		_, fields = r.Err(t)
		require.Contains(t, fields, "webhooks", "%s: %s", target, r.Raw)
	}
	a.mustCreate("/websites", `{"name":"idn","url":"https://bücher.example/"}`)
}
