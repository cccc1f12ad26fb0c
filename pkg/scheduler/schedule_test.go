package scheduler

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// testID is a deterministic website id.
func testID(i int) [16]byte {
	sum := sha256.Sum256(fmt.Appendf(nil, "website-%d", i))
	var id [16]byte
	copy(id[:], sum[:16])
	return id
}

func testWebsite(i int, intervalS int, regions ...string) *postgres.PairWebsite {
	id := testID(i)
	return &postgres.PairWebsite{UUID: id, Website: monitor.Website{
		ID: uuid.UUID(id).String(), URL: fmt.Sprintf("https://site-%d.example/", i), Method: "GET",
		IntervalSeconds: intervalS, TimeoutMS: 5000, ExpectedStatus: "200-399", Regions: regions,
		Enabled: true, ConfirmationsDown: 2, ConfirmationsUp: 1, RetryIntervalSeconds: 20,
	}}
}

// checkHeap verifies the heap order and that every pair knows its heap slot.
func checkHeap(t *testing.T, s *schedule) {
	t.Helper()
	require.Len(t, s.heap, s.len())
	for i, e := range s.heap {
		require.EqualValues(t, i, s.pairs[e.pair].heapPos)
		if i > 0 {
			require.LessOrEqual(t, s.heap[(i-1)/2].due, e.due, "heap order at %d", i)
		}
	}
}

// TestPhaseSpread adds 1000 websites with one interval at one instant: their due times spread
// over the interval instead of firing together, and a restart (a new schedule, later) puts
// every pair at the same phase.
func TestPhaseSpread(t *testing.T) {
	t.Parallel()
	const n, intervalS = 1000, 60
	const now = int64(1_700_000_000_000)
	a, b := newSchedule(), newSchedule()
	for i := range n {
		a.upsert(testWebsite(i, intervalS, "eu"), now, 1)
		b.upsert(testWebsite(i, intervalS, "eu"), now+12_345_678, 1)
	}
	checkHeap(t, a)
	period := int64(intervalS * 1000)
	buckets := make([]int, 10)
	for _, e := range a.heap {
		require.GreaterOrEqual(t, e.due, now)
		require.Less(t, e.due, now+period)
		buckets[(e.due-now)*10/period]++
	}
	for i, c := range buckets {
		// 100 expected per 6 s bucket; a binomial's spread is about 10.
		require.InDelta(t, 100, c, 40, "bucket %d of %v", i, buckets)
	}
	for i := range n {
		pa := a.find(testID(i), "eu")
		pb := b.find(testID(i), "eu")
		require.Equal(t, a.heap[a.pairs[pa].heapPos].due%period, b.heap[b.pairs[pb].heapPos].due%period)
	}
	// The regions of one website are not due at the same instant.
	require.NotEqual(t, monitor.Phase(testID(1), "eu", period), monitor.Phase(testID(1), "us", period))
}

func TestScheduleUpsertAndRemove(t *testing.T) {
	t.Parallel()
	const now = int64(1_000_000_000)
	s := newSchedule()
	w := testWebsite(1, 60, "eu", "us", "ap")
	require.Empty(t, s.upsert(w, now, 1))
	s.upsert(testWebsite(2, 30, "eu"), now, 1)
	require.Equal(t, 4, s.len())
	checkHeap(t, s)
	for _, r := range []string{"eu", "us", "ap"} {
		require.GreaterOrEqual(t, s.find(w.UUID, r), int32(0))
	}
	dueUS := s.heap[s.pairs[s.find(w.UUID, "us")].heapPos].due

	t.Run("a region dropped, a region added, the others keep their due time", func(t *testing.T) {
		w.Regions = []string{"us", "sa"}
		w.URL = "https://changed.example/"
		removed := s.upsert(w, now+5000, 1)
		require.ElementsMatch(t, []string{"eu", "ap"}, removed)
		require.Equal(t, 3, s.len())
		require.Equal(t, int32(-1), s.find(w.UUID, "eu"))
		require.Equal(t, dueUS, s.heap[s.pairs[s.find(w.UUID, "us")].heapPos].due)
		require.Equal(t, "https://changed.example/", s.sites[s.byID[w.UUID]].url)
		require.ElementsMatch(t, []string{"eu", "us", "sa"}, s.activeRegions())
		checkHeap(t, s)
	})

	t.Run("a new interval moves the pair to its new phase", func(t *testing.T) {
		w.IntervalSeconds = 600
		s.upsert(w, now+5000, 1)
		due := s.heap[s.pairs[s.find(w.UUID, "us")].heapPos].due
		require.Equal(t, monitor.NextDue(now+5000, monitor.Phase(w.UUID, "us", 600_000), 600_000), due)
		checkHeap(t, s)
	})

	t.Run("disabled is removed", func(t *testing.T) {
		w.Enabled = false
		require.ElementsMatch(t, []string{"us", "sa"}, s.upsert(w, now, 1))
		require.Equal(t, 1, s.len())
		_, ok := s.byID[w.UUID]
		require.False(t, ok)
		checkHeap(t, s)
	})

	t.Run("sweep removes what a full load did not stamp", func(t *testing.T) {
		w.Enabled = true
		s.upsert(w, now, 2)
		removed, sites := s.sweep(2)
		require.Equal(t, 1, sites)
		require.Equal(t, map[string][]string{"eu": {uuid.UUID(testID(2)).String()}}, removed)
		require.Equal(t, 2, s.len())
		checkHeap(t, s)
	})
}

func TestPopDue(t *testing.T) {
	t.Parallel()
	s := newSchedule()
	w := testWebsite(7, 10, "eu")
	s.upsert(w, 0, 1)
	p := s.find(w.UUID, "eu")
	first := s.heap[s.pairs[p].heapPos].due

	type popped struct{ due int64 }
	var got []popped
	pop := func(now int64) int {
		return s.popDue(now, 100, func(q int32, due int64) {
			require.Equal(t, p, q)
			got = append(got, popped{due})
		})
	}
	require.Zero(t, pop(first-1))
	require.Equal(t, 1, pop(first))
	require.Equal(t, []popped{{first}}, got)
	require.Equal(t, first+10_000, s.heap[0].due)

	// Three and a half intervals late: handed over once, at its latest slot.
	got = nil
	require.Equal(t, 1, pop(first+45_000))
	require.Equal(t, []popped{{first + 40_000}}, got)
	require.Equal(t, first+50_000, s.heap[0].due)

	// A standby that only keeps up moves the pair along without a callback.
	require.Equal(t, 1, s.popDue(first+70_000, 10, nil))
	require.Equal(t, first+80_000, s.heap[0].due)
}

func TestScheduleRandomOperations(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	s := newSchedule()
	regions := []string{"eu", "us", "ap", "sa"}
	now := int64(1_000_000)
	live := map[int]bool{}
	for range 5000 {
		i := rng.IntN(300)
		switch op := rng.IntN(10); {
		case op < 6:
			var rs []string
			for _, r := range regions {
				if rng.IntN(2) == 0 {
					rs = append(rs, r)
				}
			}
			s.upsert(testWebsite(i, 10+rng.IntN(3)*10, rs...), now, 1)
			live[i] = len(rs) > 0
		case op < 8:
			s.remove(testID(i))
			live[i] = false
		default:
			now += int64(rng.IntN(20_000))
			s.popDue(now, 1000, func(int32, int64) {})
		}
	}
	checkHeap(t, s)
	pairs := 0
	for i, ok := range live {
		if !ok {
			continue
		}
		idx := s.byID[testID(i)]
		for p := s.sites[idx].head; p != -1; p = s.pairs[p].next {
			pairs++
			require.Equal(t, idx, s.pairs[p].site)
		}
	}
	require.Equal(t, pairs, s.len())
}

func TestAppendJob(t *testing.T) {
	t.Parallel()
	s := newSchedule()
	w := testWebsite(3, 45, "eu")
	w.Method = "POST"
	w.Headers = map[string]string{"Authorization": "Bearer x", "X-Odd": "a\"b\\c\n"}
	w.Body = `{"ping":true}` + "\x00\x1f"
	w.Keyword = "héllo ✓"
	w.URL = "https://example.com/a?b=c&d=\"e\"\xff"
	w.SlowMS = 1500
	s.upsert(w, 0, 1)
	st := &s.sites[s.byID[w.UUID]]

	for _, retry := range []bool{false, true} {
		raw := appendJob(nil, st, "eu", 123_456, retry)
		require.True(t, json.Valid(raw), "%s", raw)
		var j monitor.Job
		require.NoError(t, json.Unmarshal(raw, &j))
		require.Equal(t, monitor.Job{
			WebsiteID: w.ID, Region: "eu", URL: "https://example.com/a?b=c&d=\"e\"\ufffd", Method: "POST",
			Headers: w.Headers, Body: w.Body, TimeoutMS: 5000, SlowMS: 1500, ExpectedStatus: "200-399",
			Keyword: w.Keyword, IntervalSeconds: 45, ConfirmationsDown: 2, ConfirmationsUp: 1,
			RetryIntervalSeconds: 20, DueAt: 123_456, Retry: retry,
		}, j)
	}
}

func TestFieldsAreInterned(t *testing.T) {
	t.Parallel()
	s := newSchedule()
	s.upsert(testWebsite(1, 60, "eu"), 0, 1)
	s.upsert(testWebsite(2, 60, "eu"), 0, 1)
	a, b := s.sites[s.byID[testID(1)]].fields, s.sites[s.byID[testID(2)]].fields
	require.Equal(t, a, b)
	require.Same(t, unsafe.StringData(a), unsafe.StringData(b))
}
