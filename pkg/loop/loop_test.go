package loop

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffDelays(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	cases := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"worker: 100 ms doubling to 5 s", Backoff{Base: 100 * ms, Max: 5 * time.Second},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5 * time.Second, 5 * time.Second}},
		{"scheduler: 100 ms doubling to 10 s", Backoff{Base: 100 * ms, Max: 10 * time.Second},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second}},
		{"notifier: 200 ms doubling to 30 s", Backoff{Base: 200 * ms, Max: 30 * time.Second},
			[]time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 12800 * ms, 25600 * ms, 30 * time.Second}},
		{"fixed", Backoff{Base: 2 * time.Second, Max: 2 * time.Second},
			[]time.Duration{2 * time.Second, 2 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.b
			var got []time.Duration
			for range tc.want {
				got = append(got, b.Next())
			}
			require.Equal(t, tc.want, got)
			b.Reset()
			require.Equal(t, tc.want[0], b.Next(), "Reset starts again from Base")
		})
	}
}

func TestBackoffNeverOverflows(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Second, Max: time.Hour}
	for range 200 {
		d := b.Next()
		require.Positive(t, d)
		require.LessOrEqual(t, d, time.Hour)
	}
	require.Equal(t, time.Hour, b.Delay())
}

func TestBackoffJitterIsTheUpperHalf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rand func(n time.Duration) time.Duration
		want time.Duration
	}{
		{"lowest draw", func(time.Duration) time.Duration { return 0 }, 50 * time.Millisecond},
		{"highest draw", func(n time.Duration) time.Duration { return n }, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true, Rand: tc.rand}
			require.Equal(t, tc.want, b.Next())
			require.Equal(t, 2*tc.want, b.Next())
		})
	}
	b := Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true}
	for range 1000 {
		d := b.Next()
		b.Reset()
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, 100*time.Millisecond)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	require.True(t, Sleep(ctx, 0), "a live context wakes when the timer fires")
	cancel()
	require.False(t, Sleep(ctx, time.Hour), "an ended context wakes at once")
	b := Backoff{Base: time.Hour, Max: time.Hour}
	require.False(t, b.Wait(ctx))
}

func TestEveryTickAndWake(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	wake := make(chan struct{})
	calls := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		everyTick(ctx, ticks, wake, func(context.Context) { calls <- struct{}{} })
	}()
	for range 3 {
		ticks <- time.Time{}
		<-calls
		wake <- struct{}{}
		<-calls
	}
	select {
	case <-calls:
		t.Fatal("called without a tick")
	default:
	}
	cancel()
	<-done
}

func TestEveryTickSkipsATickThatRacesTheEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ticks := make(chan time.Time, 1)
	ticks <- time.Time{}
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	everyTick(ctx, ticks, wake, func(context.Context) { t.Error("called after ctx ended") })
}

func TestEveryStopsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func(context.Context) {
			select {
			case calls <- struct{}{}:
			default:
			}
		})
	}()
	<-calls
	cancel()
	<-done
}
