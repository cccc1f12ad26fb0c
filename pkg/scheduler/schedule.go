package scheduler

import (
	"github.com/google/uuid"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// site is one website's settings, shared by all its pairs. It is kept small on purpose (about
// 80 bytes plus the URL): a million of them must fit in a few hundred MB.
type site struct {
	url string
	// fields is the JSON of every job field that is neither the id, the region, the URL nor the
	// due time (`"method":"GET",...,"retry_interval_seconds":20`). Most websites share one
	// value, and identical values are interned.
	fields    string
	id        [16]byte
	intervalS int32 // seconds: in ms it would overflow int32 above 24 days
	timeoutMS int32
	head      int32 // first pair of this site, or -1
	epoch     uint32
	live      bool
}

// pair is one (website, region). Pairs of a site are chained through next.
type pair struct {
	site    int32
	next    int32
	heapPos int32
	region  uint16
}

// entry is one heap slot: when a pair is due next.
type entry struct {
	due  int64 // unix ms
	pair int32
}

// schedule is the in-memory due-time structure: a binary min-heap of due times over a slice of
// pair records, with the sites they share. Popping what is due costs O(log n) per due pair, and
// nothing scans all pairs on a tick. It is not safe for concurrent use: Scheduler locks it.
type schedule struct {
	sites     []site
	freeSites []int32
	byID      map[[16]byte]int32
	pairs     []pair
	freePairs []int32
	heap      []entry
	regions   []string
	// regionPairs counts the pairs of each region, so that the retry sets of regions that no
	// website uses any more are not polled.
	regionPairs []int
	regionIdx   map[string]uint16
	intern      map[string]string
	scratch     []byte // reused by fieldsOf
	epoch       uint32
	npairs      int
}

func newSchedule() *schedule {
	return &schedule{
		byID:      map[[16]byte]int32{},
		regionIdx: map[string]uint16{},
		intern:    map[string]string{},
	}
}

// len is the number of pairs held.
func (s *schedule) len() int { return s.npairs }

func (s *schedule) regionIndex(name string) uint16 {
	if i, ok := s.regionIdx[name]; ok {
		return i
	}
	i := uint16(len(s.regions))
	s.regions = append(s.regions, name)
	s.regionPairs = append(s.regionPairs, 0)
	s.regionIdx[name] = i
	return i
}

// activeRegions are the names of the regions that have pairs.
func (s *schedule) activeRegions() []string {
	var out []string
	for i, n := range s.regionPairs {
		if n > 0 {
			out = append(out, s.regions[i])
		}
	}
	return out
}

// fieldsOf returns w's encoded job fields, reusing the string that st (nil for a new website)
// or the intern table already holds, so that a resync of an unchanged website allocates
// nothing. Only the common shape (no headers, body or keyword) is interned, so that the table
// stays small when those are unique.
func (s *schedule) fieldsOf(w *postgres.PairWebsite, st *site) string {
	var common bool
	s.scratch, common = appendFields(s.scratch[:0], &w.Website)
	if st != nil && st.fields == string(s.scratch) {
		return st.fields
	}
	if !common {
		return string(s.scratch)
	}
	if v, ok := s.intern[string(s.scratch)]; ok {
		return v
	}
	v := string(s.scratch)
	s.intern[v] = v
	return v
}

// upsert adds a website's pairs or brings them in line with w: settings updated in place,
// missing regions added, dropped regions removed. A pair whose interval is unchanged keeps its
// due time, so a resync never shifts a phase; a new pair, or one whose interval changed, is due
// at its next phase slot after now. It returns the regions whose pairs were removed.
func (s *schedule) upsert(w *postgres.PairWebsite, now int64, epoch uint32) (removed []string) {
	if !w.Enabled {
		return s.remove(w.UUID)
	}
	intervalS := int32(w.IntervalSeconds)
	if intervalS <= 0 {
		intervalS = 1
	}

	idx, ok := s.byID[w.UUID]
	if !ok {
		if n := len(s.freeSites); n > 0 {
			idx = s.freeSites[n-1]
			s.freeSites = s.freeSites[:n-1]
		} else {
			idx = int32(len(s.sites))
			s.sites = append(s.sites, site{})
		}
		s.sites[idx] = site{id: w.UUID, head: -1, live: true}
		s.byID[w.UUID] = idx
	}
	st := &s.sites[idx]
	fields := s.fieldsOf(w, st)
	intervalChanged := ok && st.intervalS != intervalS
	if st.url != w.URL {
		st.url = w.URL
	}
	st.fields = fields
	st.intervalS = intervalS
	st.timeoutMS = int32(w.TimeoutMS)
	st.epoch = epoch

	// want holds the region indexes w asks for; a website has a handful of regions, so a small
	// slice beats a map here.
	var wantBuf [16]uint16
	want := wantBuf[:0]
	for _, name := range w.Regions {
		ri := s.regionIndex(name)
		dup := false
		for _, x := range want {
			dup = dup || x == ri
		}
		if !dup {
			want = append(want, ri)
		}
	}
	periodMS := int64(intervalS) * 1000

	// Walk the existing chain: keep (and maybe reschedule) wanted pairs, drop the others.
	prev := int32(-1)
	for p := st.head; p != -1; {
		pr := s.pairs[p]
		next := pr.next
		found := -1
		for i, x := range want {
			if x == pr.region {
				found = i
				break
			}
		}
		if found < 0 {
			removed = append(removed, s.regions[pr.region])
			if prev == -1 {
				s.sites[idx].head = next
			} else {
				s.pairs[prev].next = next
			}
			s.heapRemove(pr.heapPos)
			s.freePair(p)
			p = next
			continue
		}
		want = append(want[:found], want[found+1:]...)
		if intervalChanged {
			due := monitor.NextDue(now, monitor.Phase(w.UUID, s.regions[pr.region], periodMS), periodMS)
			s.heap[pr.heapPos].due = due
			s.heapFix(pr.heapPos)
		}
		prev = p
		p = next
	}
	for _, ri := range want {
		p := s.allocPair()
		s.regionPairs[ri]++
		s.pairs[p] = pair{site: idx, next: s.sites[idx].head, region: ri}
		s.sites[idx].head = p
		due := monitor.NextDue(now, monitor.Phase(w.UUID, s.regions[ri], periodMS), periodMS)
		s.heapPush(entry{due: due, pair: p})
	}
	return removed
}

// remove drops a website and all its pairs, returning the regions it was in.
func (s *schedule) remove(id [16]byte) (removed []string) {
	idx, ok := s.byID[id]
	if !ok {
		return nil
	}
	for p := s.sites[idx].head; p != -1; {
		pr := s.pairs[p]
		removed = append(removed, s.regions[pr.region])
		s.heapRemove(pr.heapPos)
		s.freePair(p)
		p = pr.next
	}
	delete(s.byID, id)
	s.sites[idx] = site{head: -1}
	s.freeSites = append(s.freeSites, idx)
	return removed
}

// sweep removes every website not stamped with epoch (gone from PostgreSQL since the last full
// load). It returns the removed website ids by region, and how many websites it removed.
func (s *schedule) sweep(epoch uint32) (removed map[string][]string, websites int) {
	var ids [][16]byte
	for i := range s.sites {
		st := &s.sites[i]
		if st.live && st.epoch != epoch {
			ids = append(ids, st.id)
		}
	}
	removed = map[string][]string{}
	for _, id := range ids {
		text := uuid.UUID(id).String()
		for _, r := range s.remove(id) {
			removed[r] = append(removed[r], text)
		}
	}
	return removed, len(ids)
}

// find returns the pair of (website, region), or -1.
func (s *schedule) find(id [16]byte, region string) int32 {
	idx, ok := s.byID[id]
	if !ok {
		return -1
	}
	ri, ok := s.regionIdx[region]
	if !ok {
		return -1
	}
	for p := s.sites[idx].head; p != -1; p = s.pairs[p].next {
		if s.pairs[p].region == ri {
			return p
		}
	}
	return -1
}

func (s *schedule) allocPair() int32 {
	s.npairs++
	if n := len(s.freePairs); n > 0 {
		p := s.freePairs[n-1]
		s.freePairs = s.freePairs[:n-1]
		return p
	}
	s.pairs = append(s.pairs, pair{})
	return int32(len(s.pairs) - 1)
}

func (s *schedule) freePair(p int32) {
	s.npairs--
	s.regionPairs[s.pairs[p].region]--
	s.pairs[p] = pair{site: -1, next: -1, heapPos: -1}
	s.freePairs = append(s.freePairs, p)
}

// popDue hands every pair due at or before now to fn (at most max of them), with the due time
// to dispatch, and moves it to its next slot. A pair that is late by more than one interval
// (a standby that just took over, a stalled process) is handed over once, with its latest due
// slot, instead of once per missed slot. fn may be nil (a standby that only keeps up).
func (s *schedule) popDue(now int64, max int, fn func(p int32, due int64)) int {
	n := 0
	for n < max && len(s.heap) > 0 && s.heap[0].due <= now {
		e := s.heap[0]
		periodMS := int64(s.sites[s.pairs[e.pair].site].intervalS) * 1000
		due := e.due + (now-e.due)/periodMS*periodMS
		if fn != nil {
			fn(e.pair, due)
		}
		s.heap[0].due = due + periodMS
		s.heapDown(0)
		n++
	}
	return n
}

// The heap keeps each pair's position in pair.heapPos, so that a pair can be rescheduled or
// removed in O(log n) without stale entries.

func (s *schedule) heapPush(e entry) {
	s.heap = append(s.heap, e)
	i := int32(len(s.heap) - 1)
	s.pairs[e.pair].heapPos = i
	s.heapUp(i)
}

func (s *schedule) heapRemove(i int32) {
	last := int32(len(s.heap) - 1)
	if i != last {
		s.heapSwap(i, last)
	}
	s.heap = s.heap[:last]
	if i != last {
		s.heapFix(i)
	}
}

func (s *schedule) heapFix(i int32) {
	if !s.heapDown(i) {
		s.heapUp(i)
	}
}

func (s *schedule) heapSwap(i, j int32) {
	h := s.heap
	h[i], h[j] = h[j], h[i]
	s.pairs[h[i].pair].heapPos = i
	s.pairs[h[j].pair].heapPos = j
}

func (s *schedule) heapUp(i int32) {
	for i > 0 {
		parent := (i - 1) / 2
		if s.heap[parent].due <= s.heap[i].due {
			return
		}
		s.heapSwap(i, parent)
		i = parent
	}
}

// heapDown sifts i down and reports whether it moved.
func (s *schedule) heapDown(i0 int32) bool {
	i := i0
	n := int32(len(s.heap))
	for {
		l := 2*i + 1
		if l >= n || l < 0 {
			break
		}
		j := l
		if r := l + 1; r < n && s.heap[r].due < s.heap[l].due {
			j = r
		}
		if s.heap[j].due >= s.heap[i].due {
			break
		}
		s.heapSwap(i, j)
		i = j
	}
	return i > i0
}
