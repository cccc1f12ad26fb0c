package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// CodeWebsiteLimit is the error code of a website that would exceed VIGIL_MAX_WEBSITES.
const CodeWebsiteLimit = "website_limit_reached"

// websiteLimits keep the API from turning Vigil into a cannon: whoever holds a key cannot ask
// for more checks than the operator agreed to, however many websites or however short an
// interval they send.
type websiteLimits struct {
	// minInterval is the shortest interval_seconds a website may be given; never below
	// monitor.MinIntervalSeconds.
	minInterval int
	// maxWebsites caps the websites of the install; 0 means no cap.
	maxWebsites int
	websites    *postgres.WebsiteStore
	// createMu makes count-then-insert atomic within this process. Replicas of the API can
	// still race each other, so the cap can be exceeded by at most one website per extra
	// replica creating at the same instant.
	createMu sync.Mutex
}

func newWebsiteLimits(websites *postgres.WebsiteStore, minInterval, maxWebsites int) *websiteLimits {
	return &websiteLimits{
		minInterval: max(minInterval, monitor.MinIntervalSeconds),
		maxWebsites: max(maxWebsites, 0),
		websites:    websites,
	}
}

// checkInterval refuses an interval or a confirmation retry interval below the floor: a retry
// hits the target as a check does, so a floor on interval_seconds alone would still let a key
// holder have a failing target checked every second while its failures are confirmed. Each
// field is checked on a new website, and on an update only when it changes, so that raising
// VIGIL_MIN_INTERVAL_SECONDS does not make every older website uneditable; the scheduler and
// workers keep running those at their stored intervals until someone changes them.
func (l *websiteLimits) checkInterval(f fieldErrors, w *postgres.Website, before *postgres.Website) {
	if (before == nil || w.IntervalSeconds != before.IntervalSeconds) && w.IntervalSeconds < l.minInterval {
		f.add("interval_seconds", fmt.Sprintf("must be between %d (this install's minimum) and %d",
			l.minInterval, monitor.MaxIntervalSeconds))
	}
	if (before == nil || w.RetryIntervalSeconds != before.RetryIntervalSeconds) && w.RetryIntervalSeconds < l.minInterval {
		f.add("retry_interval_seconds", fmt.Sprintf("must be between %d (this install's minimum interval) and %d",
			l.minInterval, maxRetrySeconds))
	}
}

// defaults is a new website before the client's fields are applied, and what a field sent as
// null goes back to. Its retry interval is raised to the floor, so that a website that leaves
// retry_interval_seconds out is valid on an install whose floor is above the default.
func (l *websiteLimits) defaults() postgres.Website {
	w := defaultWebsite()
	w.RetryIntervalSeconds = max(w.RetryIntervalSeconds, l.minInterval)
	return w
}

// validateWebsite checks w as the validator does, plus the install's interval floor, in one 422
// that names every field at fault. before is the stored website of an update, nil on create.
func (s *Server) validateWebsite(w *postgres.Website, before *postgres.Website) error {
	f := fieldErrors{}
	s.limits.checkInterval(f, w, before)
	if err := s.validator.validate(w); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return err
		}
		for field, msg := range e.Fields {
			f.add(field, msg)
		}
	}
	return f.err()
}

// withCreateSlot runs create when the install has room for one more website, and answers 409
// otherwise. The count reads at most maxWebsites rows, so it stays cheap.
func (l *websiteLimits) withCreateSlot(ctx context.Context, create func() error) error {
	if l.maxWebsites == 0 {
		return create()
	}
	l.createMu.Lock()
	defer l.createMu.Unlock()
	n, err := l.websites.CountUpTo(ctx, l.maxWebsites)
	if err != nil {
		return fmt.Errorf("httpapi: count websites: %w", err)
	}
	if n >= l.maxWebsites {
		return &Error{Status: http.StatusConflict, Code: CodeWebsiteLimit,
			Message: fmt.Sprintf("this install already has %d websites, the most it allows (VIGIL_MAX_WEBSITES); delete some or ask the operator to raise the limit", l.maxWebsites)}
	}
	return create()
}
