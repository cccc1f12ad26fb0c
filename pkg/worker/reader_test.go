package worker_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/queue"
	"github.com/vigil-monitor/vigil/pkg/worker"
)

// TestWorkerFillsEverySlot: with more slots than one read used to ask for (128), every slot
// gets a check, and the slots that checks free take the rest of the stream.
func TestWorkerFillsEverySlot(t *testing.T) {
	t.Parallel()
	const slots = 1500
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range 2 * slots {
			raw, err := json.Marshal(job(uuid.NewString(), "http://127.0.0.1:1/"))
			if err != nil {
				return err
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Checks(region), Values: map[string]any{queue.JobField: string(raw)}})
		}
		return nil
	})
	require.NoError(t, err)

	var running atomic.Int64
	release := make(chan struct{})
	p := fakeProber{probe: func(_ context.Context, j monitor.Job) monitor.Result {
		running.Add(1)
		defer running.Add(-1)
		<-release
		return monitor.Result{WebsiteID: j.WebsiteID, Region: j.Region, At: time.Now(), Outcome: monitor.OutcomeUp, StatusCode: 200}
	}}
	params := e.params("w1", p, &memWriter{})
	params.Concurrency = slots
	w, stop := e.start(params)
	defer stop()

	require.Eventually(t, func() bool { return running.Load() == slots }, 10*time.Second, time.Millisecond,
		"every slot busy (running %d)", running.Load())
	close(release)
	require.Eventually(t, func() bool { return w.Stats().Completed.Load() == 2*slots }, 20*time.Second, 5*time.Millisecond,
		"the freed slots take the rest of the stream")
}

func TestRaiseFileLimit(t *testing.T) {
	t.Parallel()
	l, err := worker.RaiseFileLimit()
	require.NoError(t, err)
	require.Equal(t, l.Hard, l.Soft, "the soft limit is raised to the hard one")
	require.GreaterOrEqual(t, l.Soft, l.Before)
}
