package status

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResultCache(t *testing.T) {
	t.Parallel()
	type clock struct{ ns atomic.Int64 }
	newCache := func(size int) (*resultCache, *clock) {
		c := &clock{}
		c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		return newResultCache(15*time.Second, size, func() time.Time { return time.Unix(0, c.ns.Load()) }), c
	}
	counting := func(n *atomic.Int64) func(context.Context) (int64, error) {
		return func(context.Context) (int64, error) { return n.Add(1), nil }
	}

	t.Run("kept for the TTL, then asked again", func(t *testing.T) {
		t.Parallel()
		c, clk := newCache(8)
		var n atomic.Int64
		for range 3 {
			v, err := cached(t.Context(), c, "k", counting(&n))
			require.NoError(t, err)
			require.EqualValues(t, 1, v)
		}
		clk.ns.Add(int64(15*time.Second) - 1)
		v, _ := cached(t.Context(), c, "k", counting(&n))
		require.EqualValues(t, 1, v, "still within the TTL")
		clk.ns.Add(1)
		v, _ = cached(t.Context(), c, "k", counting(&n))
		require.EqualValues(t, 2, v, "expired")
		v, _ = cached(t.Context(), c, "other", counting(&n))
		require.EqualValues(t, 3, v, "keys are apart")
	})

	t.Run("concurrent misses share one query", func(t *testing.T) {
		t.Parallel()
		c, _ := newCache(8)
		var n atomic.Int64
		release := make(chan struct{})
		slow := func(context.Context) (int64, error) {
			<-release
			return n.Add(1), nil
		}
		var wg sync.WaitGroup
		got := make([]int64, 32)
		for i := range got {
			wg.Go(func() {
				v, err := cached(t.Context(), c, "k", slow)
				require.NoError(t, err)
				got[i] = v
			})
		}
		close(release) // callers that come after the flight find its answer kept

		wg.Wait()
		require.EqualValues(t, 1, n.Load(), "one query")
		for _, v := range got {
			require.EqualValues(t, 1, v)
		}
	})

	t.Run("errors are not kept", func(t *testing.T) {
		t.Parallel()
		c, _ := newCache(8)
		boom := errors.New("influx down")
		_, err := cached(t.Context(), c, "k", func(context.Context) (int, error) { return 0, boom })
		require.ErrorIs(t, err, boom)
		v, err := cached(t.Context(), c, "k", func(context.Context) (int, error) { return 7, nil })
		require.NoError(t, err)
		require.Equal(t, 7, v)
	})

	t.Run("bounded, least recently used out first", func(t *testing.T) {
		t.Parallel()
		c, _ := newCache(4)
		var n atomic.Int64
		for i := range 10 {
			_, err := cached(t.Context(), c, strconv.Itoa(i), counting(&n))
			require.NoError(t, err)
		}
		require.Equal(t, 4, c.entries.Len())
		before := n.Load()
		_, _ = cached(t.Context(), c, "0", counting(&n))
		require.Equal(t, before+1, n.Load(), "evicted")
		_, _ = cached(t.Context(), c, "9", counting(&n))
		require.Equal(t, before+1, n.Load(), "kept")
	})

	t.Run("a caller that leaves does not fail the others", func(t *testing.T) {
		t.Parallel()
		c, _ := newCache(8)
		release := make(chan struct{})
		started := make(chan struct{})
		slow := func(ctx context.Context) (int, error) {
			close(started)
			select {
			case <-release:
				return 5, ctx.Err()
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		first, leave := context.WithCancel(t.Context())
		firstErr := make(chan error, 1)
		go func() {
			_, err := cached(first, c, "k", slow)
			firstErr <- err
		}()
		<-started
		second := make(chan int, 1)
		go func() {
			v, err := cached(t.Context(), c, "k", slow)
			require.NoError(t, err)
			second <- v
		}()
		leave()
		require.ErrorIs(t, <-firstErr, context.Canceled)
		close(release)
		require.Equal(t, 5, <-second)
	})

	t.Run("no cache runs every call", func(t *testing.T) {
		t.Parallel()
		require.Nil(t, newResultCache(0, 8, nil))
		var n atomic.Int64
		for i := range 3 {
			v, err := cached(t.Context(), nil, "k", counting(&n))
			require.NoError(t, err)
			require.EqualValues(t, i+1, v)
		}
	})
}
