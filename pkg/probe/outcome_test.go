package probe

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// TestClassifyOtherFailures covers the errors no target here can be made to produce: a dial
// failure of a kind not named elsewhere is the network's, anything else a protocol failure.
func TestClassifyOtherFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		reason string
	}{
		{"other dial failure", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route today")}, ReasonNetwork},
		{"other read failure", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("garbled")}, ReasonProtocol},
		{"plain error", errors.New("malformed HTTP response"), ReasonProtocol},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := classify(ctx, ctx, monitor.Result{}, tt.err, "example.com", "the response")
			require.Equal(t, monitor.OutcomeDown, res.Outcome)
			require.Equal(t, tt.reason, res.Reason, res.Message)
			require.NotEmpty(t, res.Message)
		})
	}
}
