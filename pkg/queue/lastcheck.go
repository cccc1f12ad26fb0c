package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Fields of the state hash (Keys.State) that hold the details of the pair's last check, next
// to last_at and last_outcome. StateStore.Complete writes them with the rest of the state.
const (
	lastResponseField = "last_response_ms"
	lastStatusField   = "last_status"
	lastReasonField   = "last_reason"
	lastMessageField  = "last_message"
)

var lastCheckFields = []string{"last_at", "last_outcome", lastResponseField, lastStatusField, lastReasonField, lastMessageField}

// Pair names one (website, region) pair.
type Pair struct {
	WebsiteID, Region string
}

// LastCheck is the latest check of a pair as the worker completed it.
type LastCheck struct {
	Pair
	At         time.Time
	Outcome    monitor.Outcome
	ResponseMS float64
	StatusCode int
	Reason     string
	Message    string
}

// LastChecks reads the latest check of (website, region) pairs from the state hashes that the
// workers write on every completion, so that a status page of many websites reads Redis
// instead of querying the time series.
type LastChecks struct {
	rdb  redis.UniversalClient
	keys Keys
}

// NewLastChecks returns a reader of the state hashes under keys.
func NewLastChecks(rdb redis.UniversalClient, keys Keys) *LastChecks {
	return &LastChecks{rdb: rdb, keys: keys}
}

// LastChecks returns the latest check of each pair that Redis knows, in one pipelined round
// trip (an HMGET per pair). Pairs without a state hash, or with one written before the state
// held the check's details (a worker older than this field set), are absent: the caller asks
// the time series for those.
func (l *LastChecks) LastChecks(ctx context.Context, pairs []Pair) ([]LastCheck, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(pairs))
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, pr := range pairs {
			cmds[i] = p.HMGet(ctx, l.keys.State(pr.Region, pr.WebsiteID), lastCheckFields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: last checks of %d pairs: %w", len(pairs), err)
	}
	out := make([]LastCheck, 0, len(pairs))
	for i, cmd := range cmds {
		lc, ok, err := parseLastCheck(pairs[i], cmd.Val())
		if err != nil {
			return nil, fmt.Errorf("queue: last check of %s/%s: %w", pairs[i].Region, pairs[i].WebsiteID, err)
		}
		if ok {
			out = append(out, lc)
		}
	}
	return out, nil
}

// parseLastCheck reads an HMGET of lastCheckFields; ok is false when the hash has no last
// check with its details.
func parseLastCheck(p Pair, vals []any) (LastCheck, bool, error) {
	if len(vals) != len(lastCheckFields) {
		return LastCheck{}, false, fmt.Errorf("%d values for %d fields", len(vals), len(lastCheckFields))
	}
	str := make([]string, len(vals))
	for i, v := range vals {
		str[i], _ = v.(string)
	}
	// The status field is always written with the details (0 without a response): its
	// absence means a hash from before the details, or none at all.
	if vals[3] == nil || str[0] == "" || str[1] == "" {
		return LastCheck{}, false, nil
	}
	at, err := fromUnixNano(str[0])
	if err != nil {
		return LastCheck{}, false, fmt.Errorf("last_at: %w", err)
	}
	lc := LastCheck{Pair: p, At: at, Outcome: monitor.Outcome(str[1]), Reason: str[4], Message: str[5]}
	if str[2] != "" {
		if lc.ResponseMS, err = strconv.ParseFloat(str[2], 64); err != nil {
			return LastCheck{}, false, fmt.Errorf("%s: %w", lastResponseField, err)
		}
	}
	if str[3] != "" {
		if lc.StatusCode, err = strconv.Atoi(str[3]); err != nil {
			return LastCheck{}, false, fmt.Errorf("%s: %w", lastStatusField, err)
		}
	}
	return lc, !at.IsZero(), nil
}
