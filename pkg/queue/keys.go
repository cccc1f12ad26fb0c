// Package queue wraps every Redis structure Vigil uses: the per-region check streams and their
// consumer groups, the pending and last-dispatched markers that make the scheduler coalesce,
// the retry schedule, the per-pair confirmation state, the transition event stream and the
// dead-letter streams. All key names and Lua live in this package, so there is one place to read
// what Vigil keeps in Redis. Redis holds only streams and small hot state: if it loses its data,
// in-flight work is lost and the scheduler and workers rebuild the rest.
package queue

// Prefix starts every key. Tests use their own prefix so that they can share one Redis.
const Prefix = "vigil"

// Keys names the Redis keys under one prefix.
type Keys struct{ Prefix string }

// orDefault is k, or the keys under Prefix when k names no prefix: the zero Keys a caller
// leaves unset are Vigil's own.
func (k Keys) orDefault() Keys {
	if k.Prefix == "" {
		k.Prefix = Prefix
	}
	return k
}

// Checks is the stream of due checks for a region.
func (k Keys) Checks(region string) string { return k.Prefix + ":checks:" + region }

// DeadLetter is the stream that receives a region's jobs after too many deliveries.
func (k Keys) DeadLetter(region string) string { return k.Prefix + ":dead:" + region }

// Pending is the hash website_id -> deadline (unix ms) of the region's queued or running checks.
// The scheduler queues no second check for a pair while its deadline is in the future.
func (k Keys) Pending(region string) string { return k.Prefix + ":pending:" + region }

// LastDue is the hash website_id -> due time (unix ms) of the last check dispatched for the
// pair, the fence that stops two schedulers dispatching the same due time twice.
func (k Keys) LastDue(region string) string { return k.Prefix + ":lastdue:" + region }

// Retry is the sorted set of website ids whose next check is a confirmation retry, scored by
// the time it is due (unix ms).
func (k Keys) Retry(region string) string { return k.Prefix + ":retry:" + region }

// State is the hash that holds a pair's confirmation counters and confirmed state.
func (k Keys) State(region, websiteID string) string {
	return k.Prefix + ":state:" + region + ":" + websiteID
}

// Events is the stream of confirmed state transitions that the notifier consumes.
func (k Keys) Events() string { return k.Prefix + ":events" }

// Group is the consumer group name used on every stream.
const Group = "vigil"
