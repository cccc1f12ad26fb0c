package probe

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestPhasesOfANamedHTTPSTarget checks a name over HTTPS, so that every phase happens: each
// is measured, they follow one another before the first byte, and the certificate's expiry is
// recorded.
func TestPhasesOfANamedHTTPSTarget(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t)
	srv := newTLSServer(t, text("ok"))
	target := namedURL(t, dns, "example.com", srv.URL) // a name the server's certificate covers
	p := NewHTTP(NewGuard(allowLoopback1, WithResolver(dns.resolver())), trustServer(srv.Certificate())...)

	res := p.Probe(context.Background(), monitor.Job{URL: target, TimeoutMS: 5000})
	require.Equal(t, monitor.OutcomeUp, res.Outcome, res.Message)
	ph := res.Phases
	require.Positive(t, ph.DNS)
	require.Positive(t, ph.Connect)
	require.Positive(t, ph.TLS)
	require.GreaterOrEqual(t, ph.TTFB, ph.DNS+ph.Connect+ph.TLS)
	require.GreaterOrEqual(t, ph.Total, ph.TTFB)
	require.Equal(t, srv.Certificate().NotAfter, res.CertExpiry)
}
