package monitor

import "hash/fnv"

// Phase is where in its interval a (website, region) pair is due: a hash of the website id and
// the region, so that websites added together spread over the interval, the regions of one
// website do not all fire in the same instant, and every scheduler (and every restart) agrees
// on the same times. The scheduler dispatches by it and the API shows the next check from it.
// periodMS is the interval in milliseconds; the phase is in [0, periodMS).
func Phase(websiteID [16]byte, region string, periodMS int64) int64 {
	h := fnv.New64a()
	h.Write(websiteID[:])
	h.Write([]byte{0})
	h.Write([]byte(region))
	return int64(h.Sum64() % uint64(periodMS))
}

// NextDue is the first time t >= now (unix ms) with t ≡ phase (mod periodMS).
func NextDue(now, phase, periodMS int64) int64 {
	r := now % periodMS
	if r < 0 {
		r += periodMS
	}
	t := now - r + phase
	if t < now {
		t += periodMS
	}
	return t
}
