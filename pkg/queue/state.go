package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Defaults of a StateStore.
const (
	// DefaultEventsMaxLen bounds the events stream (MAXLEN ~). The notifier acks events within
	// seconds; a million is days of transitions even for a very large installation.
	DefaultEventsMaxLen = 1_000_000
	// DefaultStateTTL is how long a pair's state outlives its last check. A deleted or disabled
	// website's state then goes away by itself; one re-enabled later starts from unknown.
	DefaultStateTTL = 30 * 24 * time.Hour
	// completeRounds bounds the compare-and-set retries of one completion. A conflict needs two
	// consumers completing jobs of the same pair at the same moment, which the scheduler's
	// coalescing makes rare; a handful of rounds always settles it.
	completeRounds = 5
)

// Fields of the state hash (Keys.State). Times are unix nanoseconds, so that a transition's At
// survives a round trip through Redis exactly and a redelivered event carries the same At. The
// first_* fields are the first check of the current streak (monitor.PairState.First), the
// cause of the transition that the streak may confirm; a hash written before they existed
// reads them as empty, and the notifier then takes the confirming check's cause.
//
// The last_response_ms, last_status, last_reason and last_message fields are the details of
// the check at last_at, which GET /monitor shows (LastChecks); the completion writes them, and
// nothing in the confirmation rule reads them.
var stateFields = []string{"version", "last_id", "state", "fails", "oks", "since", "changed_at", "last_at", "last_outcome",
	"first_outcome", "first_reason", "first_message", "first_status"}

// completeScript is one job's completion, atomically: compare-and-set of the pair's state,
// the transition event, the retry schedule, the pending marker and the XACK. Either all of it
// happens or none of it, so a worker that dies at any point leaves a job that is either
// finished or still pending (and reclaimed), never half done.
//
// The last applied entry id makes it idempotent: applying the same entry again (a pipeline
// retried after a lost reply, or the same entry completed by two consumers after a reclaim)
// only acks it again. A version mismatch returns the stored state so the caller can re-apply
// the rule in Go and try again.
//
// The pending marker (Keys.Pending) is removed only while it still belongs to this job: when
// the pair's LastDue, the due time of the last job the scheduler dispatched for it, is not
// later than this job's due time. If the scheduler has since dispatched a newer job (this one
// outlived its deadline), the marker is the newer job's and stays.
//
// KEYS: state hash, events stream, retry zset, pending hash, lastdue hash, checks stream.
// ARGV: expected version, entry id, group, website id, due (ms), event JSON or "",
// retry ("" leave, "-" remove, else the score in ms), events maxlen, state TTL (ms), then the
// state's field/value pairs.
var completeScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'version', 'last_id')
local ver = tonumber(cur[1]) or 0
local function finish()
  local last = redis.call('HGET', KEYS[5], ARGV[4])
  if (not last) or tonumber(last) <= tonumber(ARGV[5]) then
    redis.call('HDEL', KEYS[4], ARGV[4])
  end
  redis.call('XACK', KEYS[6], ARGV[3], ARGV[2])
end
if cur[2] == ARGV[2] then
  finish()
  return {'dup'}
end
if ver ~= tonumber(ARGV[1]) then
  return {'conflict', redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'version', ver + 1, 'last_id', ARGV[2], unpack(ARGV, 10))
redis.call('PEXPIRE', KEYS[1], ARGV[9])
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'event', ARGV[6])
end
if ARGV[7] == '-' then
  redis.call('ZREM', KEYS[3], ARGV[4])
elseif ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[4])
end
finish()
return {'ok'}
`)

// StateParams configures a StateStore. Zero values take the defaults.
type StateParams struct {
	Keys         Keys
	Region       string
	EventsMaxLen int64
	StateTTL     time.Duration
}

// StateStore keeps each (website, region) pair's monitor.PairState in Redis and completes
// jobs. The confirmation rule stays in Go (monitor.PairState.Apply); Redis only stores its
// result, guarded by a version so that two consumers cannot overwrite each other's update.
type StateStore struct {
	rdb    redis.UniversalClient
	p      StateParams
	maxLen string
	ttl    string
}

// NewStateStore returns the state store of p.Region.
func NewStateStore(rdb redis.UniversalClient, p StateParams) *StateStore {
	if p.EventsMaxLen <= 0 {
		p.EventsMaxLen = DefaultEventsMaxLen
	}
	if p.StateTTL <= 0 {
		p.StateTTL = DefaultStateTTL
	}
	return &StateStore{
		rdb:    rdb,
		p:      p,
		maxLen: strconv.FormatInt(p.EventsMaxLen, 10),
		ttl:    strconv.FormatInt(p.StateTTL.Milliseconds(), 10),
	}
}

// Load loads the completion script, so that the pipelined EVALSHA calls find it. Complete
// loads it again by itself when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
func (s *StateStore) Load(ctx context.Context) error {
	if err := completeScript.Load(ctx, s.rdb).Err(); err != nil {
		return fmt.Errorf("queue: load completion script: %w", err)
	}
	return nil
}

// Completion is a finished check, ready to be folded into its pair's state and acked.
type Completion struct {
	Delivery Delivery
	Result   monitor.Result
	// Now is when the check finished: a confirmation retry is due RetryInterval after it.
	Now time.Time
}

// Completed is what completing one job did.
type Completed struct {
	// Transition is the confirmed state change emitted on the events stream, if any.
	Transition *monitor.Transition
	// Duplicate is set when this entry had been applied already; it was only acked again.
	Duplicate bool
	// RetryAt is when the confirmation retry is due, zero when none was scheduled.
	RetryAt time.Time
	// Err is set when this job could not be completed; it stays pending and will be retried or
	// reclaimed.
	Err error
}

// stored is a pair's state as read from Redis.
type stored struct {
	state   monitor.PairState
	version int64
	lastID  string
}

// GetState returns a pair's stored state (zero, unknown, when there is none).
func (s *StateStore) GetState(ctx context.Context, websiteID string) (monitor.PairState, error) {
	vals, err := s.rdb.HMGet(ctx, s.p.Keys.State(s.p.Region, websiteID), stateFields...).Result()
	if err != nil {
		return monitor.PairState{}, fmt.Errorf("queue: get state %s/%s: %w", s.p.Region, websiteID, err)
	}
	st, err := parseStored(vals)
	if err != nil {
		return monitor.PairState{}, fmt.Errorf("queue: get state %s/%s: %w", s.p.Region, websiteID, err)
	}
	return st.state, nil
}

// Complete folds each finished check into its pair's state and acks its job, emitting
// transitions and scheduling confirmation retries, with one atomic script call per job. The
// calls of a batch are pipelined: a batch costs two round trips (read the states, run the
// scripts) however many jobs it holds, plus one per compare-and-set conflict round. The
// returned slice matches cs; the error is set only when nothing could be done at all.
func (s *StateStore) Complete(ctx context.Context, cs []Completion) ([]Completed, error) {
	out := make([]Completed, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	states, todo, err := s.readStates(ctx, cs, out)
	if err != nil {
		return out, err
	}
	loaded := false
	for round := 0; len(todo) > 0; round++ {
		if round == completeRounds {
			for _, i := range todo {
				out[i].Err = fmt.Errorf("queue: complete %s: state kept changing under %d attempts", cs[i].Delivery.ID, completeRounds)
			}
			break
		}
		next, noscript, err := s.completeRound(ctx, cs, states, todo, out)
		if noscript {
			if loaded {
				return out, errors.New("queue: complete: NOSCRIPT after loading the script")
			}
			if err := s.Load(ctx); err != nil {
				return out, err
			}
			loaded = true
		} else if err != nil && len(next) == 0 && allFailed(out, todo) {
			return out, fmt.Errorf("queue: complete: %w", err)
		}
		todo = next
	}
	dropFailedEffects(out)
	return out, nil
}

// readStates reads the stored state of every completion's pair in one pipelined round trip.
// It returns the states and the indexes of the completions whose state could be read; the
// others get their error in out.
func (s *StateStore) readStates(ctx context.Context, cs []Completion, out []Completed) ([]stored, []int, error) {
	states := make([]stored, len(cs))
	readCmds := make([]*redis.SliceCmd, len(cs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cs {
			readCmds[i] = p.HMGet(ctx, s.p.Keys.State(s.p.Region, c.Delivery.Job.WebsiteID), stateFields...)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("queue: read states: %w", err)
	}
	todo := make([]int, 0, len(cs))
	for i, cmd := range readCmds {
		st, err := parseStored(cmd.Val())
		if err != nil {
			out[i].Err = fmt.Errorf("queue: state of %s: %w", cs[i].Delivery.Job.WebsiteID, err)
			continue
		}
		states[i] = st
		todo = append(todo, i)
	}
	return states, todo, nil
}

// completeRound runs the completion script once for each completion in todo, pipelined, and
// settles each reply into out. It returns the completions to run again: those whose state
// changed under them (states then holds the new one) and, when noscript, those Redis had no
// script for. err is the pipeline's error, for the caller to tell a dead Redis from failed
// jobs.
func (s *StateStore) completeRound(ctx context.Context, cs []Completion, states []stored, todo []int,
	out []Completed) (next []int, noscript bool, err error) {
	cmds := make([]*redis.Cmd, len(todo))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, i := range todo {
			keys, args, res := s.prepare(cs[i], states[i])
			out[i].Transition, out[i].RetryAt = res.transition, res.retryAt
			cmds[k] = completeScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	for k, i := range todo {
		again, missing := settle(cs[i], cmds[k], &states[i], &out[i])
		noscript = noscript || missing
		if again {
			next = append(next, i)
		}
	}
	return next, noscript, err
}

// settle reads one script reply into out. It reports again when the completion must run
// another round: the pair's state changed since it was read (st is then the new state), or
// Redis had no script (missing).
func settle(c Completion, cmd *redis.Cmd, st *stored, out *Completed) (again, missing bool) {
	reply, cerr := cmd.Slice()
	switch {
	case cerr != nil && redis.HasErrorPrefix(cerr, "NOSCRIPT"):
		return true, true
	case cerr != nil:
		out.Err = fmt.Errorf("queue: complete %s: %w", c.Delivery.ID, cerr)
	case len(reply) >= 1 && reply[0] == "ok":
		out.Err = nil
	case len(reply) >= 1 && reply[0] == "dup":
		*out = Completed{Duplicate: true}
	case len(reply) == 2 && reply[0] == "conflict":
		fresh, perr := parseStored(hashToSlice(reply[1]))
		if perr != nil {
			out.Err = fmt.Errorf("queue: complete %s: %w", c.Delivery.ID, perr)
			return false, false
		}
		*st = fresh
		return true, false
	default:
		out.Err = fmt.Errorf("queue: complete %s: unexpected reply %v", c.Delivery.ID, reply)
	}
	return false, false
}

// dropFailedEffects clears the transition and retry of every completion that failed: neither
// happened.
func dropFailedEffects(out []Completed) {
	for i := range out {
		if out[i].Err != nil {
			out[i].Transition, out[i].RetryAt = nil, time.Time{}
		}
	}
}

func allFailed(out []Completed, idx []int) bool {
	for _, i := range idx {
		if out[i].Err == nil {
			return false
		}
	}
	return true
}

type prepared struct {
	transition *monitor.Transition
	retryAt    time.Time
}

// prepare applies the rule to one completion and builds the script's keys and arguments.
func (s *StateStore) prepare(c Completion, st stored) ([]string, []any, prepared) {
	j := c.Delivery.Job
	k := s.p.Keys
	keys := []string{
		k.State(s.p.Region, j.WebsiteID), k.Events(), k.Retry(s.p.Region),
		k.Pending(s.p.Region), k.LastDue(s.p.Region), k.Checks(s.p.Region),
	}
	var res prepared
	conf := monitor.ConfirmationsOf(j)
	stale := !st.state.LastAt.IsZero() && c.Result.At.Before(st.state.LastAt)
	next, tr := st.state.Apply(c.Result, conf)
	event := ""
	if tr != nil {
		b, err := json.Marshal(tr)
		if err == nil { // a Transition always marshals; guard anyway rather than emit ""
			event = string(b)
			res.transition = tr
		}
	}
	retry := "-"
	switch {
	case stale:
		retry = "" // an old result says nothing about what to check next
	case next.RetryDue(conf):
		interval := time.Duration(j.RetryIntervalSeconds) * time.Second
		if interval <= 0 {
			interval = monitor.DefaultRetryIntervalSeconds * time.Second
		}
		res.retryAt = c.Now.Add(interval)
		retry = strconv.FormatInt(res.retryAt.UnixMilli(), 10)
	}
	args := []any{
		st.version, c.Delivery.ID, Group, j.WebsiteID, j.DueAt, event, retry, s.maxLen, s.ttl,
		"state", string(next.State),
		"fails", next.Fails,
		"oks", next.Oks,
		"since", unixNano(next.Since),
		"changed_at", unixNano(next.ChangedAt),
		"last_at", unixNano(next.LastAt),
		"last_outcome", string(next.LastOutcome),
		"first_outcome", string(next.First.Outcome),
		"first_reason", next.First.Reason,
		"first_message", next.First.Message,
		"first_status", next.First.StatusCode,
	}
	if !stale {
		// The last check's details, for GET /monitor (LastChecks). A stale result did not
		// become the last check, so it leaves them alone.
		args = append(args,
			lastResponseField, strconv.FormatFloat(float64(c.Result.Phases.Total)/float64(time.Millisecond), 'f', -1, 64),
			lastStatusField, c.Result.StatusCode,
			lastReasonField, c.Result.Reason,
			lastMessageField, c.Result.Message,
		)
	}
	return keys, args, res
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	return time.Unix(0, n).UTC(), nil
}

// hashToSlice turns an HGETALL reply (field, value, ...) into values in stateFields order, as
// HMGET would have returned them.
func hashToSlice(v any) []any {
	flat, _ := v.([]any)
	m := make(map[string]any, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		m[k] = flat[i+1]
	}
	out := make([]any, len(stateFields))
	for i, f := range stateFields {
		out[i] = m[f]
	}
	return out
}

// parseStored reads an HMGET of stateFields. A missing hash is the zero, unknown state.
func parseStored(vals []any) (stored, error) {
	var st stored
	st.state.State = monitor.StateUnknown
	if len(vals) != len(stateFields) {
		return st, fmt.Errorf("state: %d values for %d fields", len(vals), len(stateFields))
	}
	str := make([]string, len(vals))
	for i, v := range vals {
		str[i], _ = v.(string)
	}
	var errs []error
	atoi := func(s string) int64 {
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	ts := func(s string) time.Time {
		t, err := fromUnixNano(s)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	st.version = atoi(str[0])
	st.lastID = str[1]
	if str[2] != "" {
		st.state.State = monitor.State(str[2])
	}
	st.state.Fails = int(atoi(str[3]))
	st.state.Oks = int(atoi(str[4]))
	st.state.Since = ts(str[5])
	st.state.ChangedAt = ts(str[6])
	st.state.LastAt = ts(str[7])
	st.state.LastOutcome = monitor.Outcome(str[8])
	st.state.First = monitor.Cause{
		Outcome: monitor.Outcome(str[9]), Reason: str[10], Message: str[11], StatusCode: int(atoi(str[12])),
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("state: %w", errors.Join(errs...))
	}
	return st, nil
}
