package influxdb

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

func TestDailyOutcomes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	env := newQueryTestEnv(t, now)
	a, b := uuid.NewString(), uuid.NewString()
	day := func(d int, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	env.write(t, a,
		check{at: day(8, 1), region: "eu", outcome: monitor.OutcomeUp, response: 10, status: 200},
		check{at: day(8, 23), region: "us", outcome: monitor.OutcomeDown, response: 10, status: 500},
		check{at: day(10, 0), region: "eu", outcome: monitor.OutcomeDegraded, response: 900, status: 200},
		check{at: day(10, 1), region: "eu", outcome: monitor.OutcomeTimeout},
		check{at: day(10, 2), region: "us", outcome: monitor.OutcomeBlocked},
	)
	env.write(t, b, check{at: day(9, 12), region: "eu", outcome: monitor.OutcomeUp, response: 5, status: 200})

	got, err := env.reader.DailyOutcomes(context.Background(), []string{a, b, uuid.NewString()}, day(7, 6), now)
	require.NoError(t, err)
	require.Equal(t, []DayCounts{
		{Date: day(8, 0), Counts: Counts{Up: 1, Down: 1}},
		{Date: day(10, 0), Counts: Counts{Degraded: 1, Timeout: 1, Blocked: 1}},
	}, got[a])
	require.Equal(t, []DayCounts{{Date: day(9, 0), Counts: Counts{Up: 1}}}, got[b])
	require.Len(t, got, 2, "websites without checks are absent")

	got, err = env.reader.DailyOutcomes(context.Background(), []string{a}, day(10, 0), now)
	require.NoError(t, err)
	require.Equal(t, []DayCounts{{Date: day(10, 0), Counts: Counts{Degraded: 1, Timeout: 1, Blocked: 1}}}, got[a], "today alone")

	_, err = env.reader.DailyOutcomes(context.Background(), []string{`x") or true`}, day(7, 0), now)
	require.Error(t, err, "ids are parsed, never pasted")
}
