package influxdb

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClientLoggerCountsDiscards(t *testing.T) {
	t.Parallel()
	l := &clientLogger{log: slog.New(slog.DiscardHandler)}
	before := clientDiscards.Load()
	l.Error("Write proc: Retry buffer full, discarding oldest batch")
	l.Errorf("Error flushing batch from retry queue: %s", "connection refused")
	l.Warnf("Write error: %s", "partial write: field type conflict")
	l.Error("Callback rejected batch, discarding") // counted by onWriteFailed instead
	l.Warn("Write proc: cannot write yet, storing batch to queue")
	require.EqualValues(t, 3, clientDiscards.Load()-before)
}
