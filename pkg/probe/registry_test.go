package probe_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/probe"
)

// TestRegistryChoosesByScheme runs jobs through the registry: http and https reach the HTTP
// check, and a URL that names no check type, or is no URL, is an invalid check stamped with
// the registry's clock.
func TestRegistryChoosesByScheme(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reg := probe.NewRegistry(probe.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
		probe.WithRootCAs(poolOf(tlsSrv)), probe.WithClock(func() time.Time { return at }))

	cases := []struct {
		name    string
		url     string
		outcome monitor.Outcome
		reason  string
		message string
	}{
		{"http", plain.URL, monitor.OutcomeUp, "", ""},
		{"https", tlsSrv.URL, monitor.OutcomeUp, "", ""},
		{"upper-case scheme", strings.Replace(plain.URL, "http", "HTTP", 1), monitor.OutcomeUp, "", ""},
		{"no check type", "ftp://127.0.0.1/", monitor.OutcomeDown, probe.ReasonInvalid,
			`invalid check: url: scheme "ftp" is not http or https: invalid target URL`},
		{"not a URL", "http://[::1", monitor.OutcomeDown, probe.ReasonInvalid, "invalid check: url: not a valid URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			j := monitor.Job{WebsiteID: "w1", Region: "eu", URL: c.url, Method: "GET", TimeoutMS: 5000, ExpectedStatus: "200-399"}
			res := reg.Probe(context.Background(), j)
			require.Equal(t, c.outcome, res.Outcome, res.Message)
			require.Equal(t, c.reason, res.Reason)
			require.Equal(t, "w1", res.WebsiteID)
			require.Equal(t, "eu", res.Region)
			require.Equal(t, at, res.At)
			if c.message != "" {
				require.Equal(t, c.message, res.Message)
			}
		})
	}
}

func poolOf(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}
