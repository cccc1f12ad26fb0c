package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultStreamMaxLen bounds each region's check stream (XADD MAXLEN ~) when the caller sets no
// bound: a region whose workers are all down stops growing there instead of eating Redis.
const DefaultStreamMaxLen = 1_000_000

// DefaultDispatchBatch is how many jobs one script call takes. Each call runs atomically in
// Redis and blocks it for its duration, so a batch is large enough to amortise the round trip
// and small enough (about a millisecond) not to stall the workers' reads.
const DefaultDispatchBatch = 500

// DispatchJob is one due check that the scheduler wants enqueued.
type DispatchJob struct {
	WebsiteID string
	// DueAt is the due time in unix milliseconds: the fence compares it with LastDue.
	DueAt int64
	// Deadline is when the pending marker expires (unix ms): the check's timeout plus a grace
	// after dispatch. A pair whose worker died unblocks then, not never.
	Deadline int64
	// Payload is the JSON of the monitor.Job, the stream entry's only field ("job").
	Payload []byte
}

// DispatchCounts says what a dispatch did with its jobs.
type DispatchCounts struct {
	// Dispatched jobs were XADDed.
	Dispatched int
	// Coalesced jobs were skipped because the pair's previous check is still pending.
	Coalesced int
	// Duplicates were skipped because this due time (or a later one) was already dispatched:
	// the fence that keeps two schedulers from queueing one due time twice.
	Duplicates int
}

// Add sums counts.
func (c *DispatchCounts) Add(o DispatchCounts) {
	c.Dispatched += o.Dispatched
	c.Coalesced += o.Coalesced
	c.Duplicates += o.Duplicates
}

// dispatchScript decides and enqueues a batch of one region's jobs atomically, so that the
// check of Pending and LastDue and the writes that follow cannot interleave with another
// scheduler or a worker's HDEL.
//
// KEYS: pending hash, lastdue hash, checks stream. ARGV: now (ms), maxlen, then four per job:
// website id, due (ms), pending deadline (ms), payload. Returns {dispatched, coalesced, dups}.
var dispatchScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local maxlen = ARGV[2]
local sent, coalesced, dups = 0, 0, 0
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  local due = tonumber(ARGV[i+1])
  local pending = redis.call('HGET', KEYS[1], id)
  if pending and tonumber(pending) > now then
    coalesced = coalesced + 1
  else
    local last = redis.call('HGET', KEYS[2], id)
    if last and tonumber(last) >= due then
      dups = dups + 1
    else
      redis.call('HSET', KEYS[1], id, ARGV[i+2])
      redis.call('HSET', KEYS[2], id, ARGV[i+1])
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 'job', ARGV[i+3])
      sent = sent + 1
    end
  end
end
return {sent, coalesced, dups}
`)

// popRetriesScript takes up to ARGV[2] members scored at or before ARGV[1] from the retry set,
// atomically, so that two schedulers never both take one retry. Returns member, score pairs.
var popRetriesScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do
  redis.call('ZREM', KEYS[1], due[i])
end
return due
`)

// DispatcherParams configures a Dispatcher. Zero values take the defaults.
type DispatcherParams struct {
	Keys Keys
	// MaxLen bounds each stream (MAXLEN ~); default DefaultStreamMaxLen.
	MaxLen int64
	// Batch is the number of jobs per script call; default DefaultDispatchBatch.
	Batch int
}

// Dispatcher enqueues due checks into the region streams through one Lua script, with the
// coalescing and the fence applied inside Redis.
type Dispatcher struct {
	rdb    redis.UniversalClient
	keys   Keys
	maxLen string
	batch  int
}

// NewDispatcher returns a Dispatcher on rdb. It loads the scripts on first use.
func NewDispatcher(rdb redis.UniversalClient, p DispatcherParams) *Dispatcher {
	if p.MaxLen <= 0 {
		p.MaxLen = DefaultStreamMaxLen
	}
	if p.Batch <= 0 {
		p.Batch = DefaultDispatchBatch
	}
	return &Dispatcher{rdb: rdb, keys: p.Keys.orDefault(), maxLen: strconv.FormatInt(p.MaxLen, 10), batch: p.Batch}
}

// Load loads the scripts into Redis, so that the pipelined EVALSHA calls find them. Dispatch
// calls it again when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
func (d *Dispatcher) Load(ctx context.Context) error {
	for _, s := range []*redis.Script{dispatchScript, popRetriesScript} {
		if err := s.Load(ctx, d.rdb).Err(); err != nil {
			return fmt.Errorf("queue: load script: %w", err)
		}
	}
	return nil
}

// Dispatch enqueues region's jobs, in script calls of Batch jobs pipelined in one round trip.
// now (unix ms) decides which pending markers have expired. On an error the counts cover the
// batches that ran; the fence makes it safe to dispatch the others again.
func (d *Dispatcher) Dispatch(ctx context.Context, region string, now int64, jobs []DispatchJob) (DispatchCounts, error) {
	return d.DispatchRegions(ctx, now, map[string][]DispatchJob{region: jobs})
}

// DispatchRegions is Dispatch for several regions in one pipeline.
func (d *Dispatcher) DispatchRegions(ctx context.Context, now int64, jobs map[string][]DispatchJob) (DispatchCounts, error) {
	type call struct {
		keys []string
		args []any
	}
	var calls []call
	nowArg := strconv.FormatInt(now, 10)
	for region, js := range jobs {
		keys := []string{d.keys.Pending(region), d.keys.LastDue(region), d.keys.Checks(region)}
		for start := 0; start < len(js); start += d.batch {
			batch := js[start:min(start+d.batch, len(js))]
			args := make([]any, 0, 2+4*len(batch))
			args = append(args, nowArg, d.maxLen)
			for _, j := range batch {
				args = append(args, j.WebsiteID, j.DueAt, j.Deadline, j.Payload)
			}
			calls = append(calls, call{keys: keys, args: args})
		}
	}
	var total DispatchCounts
	if len(calls) == 0 {
		return total, nil
	}
	run := func(todo []call) ([]call, error) {
		cmds := make([]*redis.Cmd, len(todo))
		_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range todo {
				cmds[i] = dispatchScript.EvalSha(ctx, p, c.keys, c.args...)
			}
			return nil
		})
		var retry []call
		var errs []error
		for i, cmd := range cmds {
			res, cerr := cmd.Int64Slice()
			switch {
			case cerr == nil && len(res) == 3:
				total.Add(DispatchCounts{Dispatched: int(res[0]), Coalesced: int(res[1]), Duplicates: int(res[2])})
			case cerr != nil && redis.HasErrorPrefix(cerr, "NOSCRIPT"):
				retry = append(retry, todo[i])
			case cerr != nil:
				errs = append(errs, cerr)
			default:
				errs = append(errs, fmt.Errorf("unexpected reply %v", res))
			}
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		if err != nil && len(retry) == 0 {
			return nil, err
		}
		return retry, nil
	}
	retry, err := run(calls)
	if err == nil && len(retry) > 0 {
		if err = d.Load(ctx); err == nil {
			retry, err = run(retry)
			if err == nil && len(retry) > 0 {
				err = errors.New("NOSCRIPT after loading the script")
			}
		}
	}
	if err != nil {
		return total, fmt.Errorf("queue: dispatch: %w", err)
	}
	return total, nil
}

// DueRetry is a confirmation check that a worker asked for.
type DueRetry struct {
	WebsiteID string
	// DueAt is the time (unix ms) the retry was due.
	DueAt int64
}

// PopDueRetries atomically takes up to max members of region's retry set that are due at now
// (unix ms). What it returns is gone from Redis: the caller must dispatch it.
func (d *Dispatcher) PopDueRetries(ctx context.Context, region string, now time.Time, max int) ([]DueRetry, error) {
	if max <= 0 {
		max = d.batch
	}
	keys := []string{d.keys.Retry(region)}
	res, err := popRetriesScript.Run(ctx, d.rdb, keys, now.UnixMilli(), max).Slice()
	if err != nil {
		return nil, fmt.Errorf("queue: pop retries %s: %w", region, err)
	}
	out := make([]DueRetry, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		id, _ := res[i].(string)
		score, _ := res[i+1].(string)
		due, err := strconv.ParseFloat(score, 64)
		if err != nil {
			return out, fmt.Errorf("queue: pop retries %s: score %q of %s: %w", region, score, id, err)
		}
		out = append(out, DueRetry{WebsiteID: id, DueAt: int64(due)})
	}
	return out, nil
}

// Forget removes a pair's Pending and LastDue markers once the scheduler no longer holds it,
// so that the hashes do not keep every website that ever existed.
func (d *Dispatcher) Forget(ctx context.Context, region string, websiteIDs ...string) error {
	if len(websiteIDs) == 0 {
		return nil
	}
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, d.keys.Pending(region), websiteIDs...)
		p.HDel(ctx, d.keys.LastDue(region), websiteIDs...)
		p.ZRem(ctx, d.keys.Retry(region), toAny(websiteIDs)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: forget %d pairs in %s: %w", len(websiteIDs), region, err)
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
