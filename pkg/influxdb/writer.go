// Package influxdb is Vigil's InfluxDB adapter: the batched writer of check results and the Flux
// queries that read them back. It works with InfluxDB 2.x and with 1.8's v2-compatible API
// (bucket "db/retention-policy", token "user:password" or empty).
package influxdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	apihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	influxlog "github.com/influxdata/influxdb-client-go/v2/log"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// Measurement is the InfluxDB measurement of check results. Its tags are website_id and
// region; its fields response_ms, dns_ms, connect_ms, tls_ms, ttfb_ms (float milliseconds),
// status_code (int), up (bool), outcome, reason, error (strings) and cert_expiry_days (float,
// TLS checks only).
const Measurement = "check"

// Defaults of a Writer.
const (
	DefaultBatchSize     = 5000
	DefaultFlushInterval = time.Second
	// DefaultRetryBufferLimit is how many points the writer keeps for retry while InfluxDB is
	// unreachable: 100,000 points (20 full batches, about 25 MB of line protocol), some 8 s of
	// a worker at 12k checks/s or hours of a typical one. Past it the oldest batch is
	// discarded, logged and counted in Dropped. The client bounds its retry queue in batches,
	// not points, so while writes fail the writer hands it only full batches (see feed): a
	// batch per flush interval would fill 20 slots in 20 seconds at any rate.
	DefaultRetryBufferLimit = 100_000
	// DefaultMaxRetries and DefaultMaxRetryTime bound how long one batch is retried: up to 10
	// attempts with exponential backoff (1 s doubling, capped at 2 min) within 15 minutes.
	DefaultMaxRetries   = 10
	DefaultMaxRetryTime = 15 * time.Minute
	// queueFactor sizes the hand-off buffer in front of the client in batches; it absorbs the
	// time the client spends posting one batch, during which it accepts no new points.
	queueFactor = 2
)

// WriterParams configures a Writer. Zero values take the defaults.
type WriterParams struct {
	URL    string
	Token  string // 2.x token, 1.8 "user:password", or empty
	Org    string // ignored by 1.8
	Bucket string // 1.8: "database/retention-policy"

	BatchSize        int
	FlushInterval    time.Duration
	RetryBufferLimit int
	MaxRetries       int
	MaxRetryTime     time.Duration
	// RetryInterval is the first retry's delay; it doubles with each attempt. Default 1 s.
	RetryInterval time.Duration

	Logger *slog.Logger
	// OnError, if set, is called once per failed write attempt, for metrics.
	OnError func()
	// OnPoints, if set, is called with the number of points each Write has handed over (the
	// count Points returns), for metrics.
	OnPoints func(n int)
}

// Writer writes check results to InfluxDB in batches through the client's non-blocking write
// API. Write only blocks when its hand-off buffer is full, which is how a slow or absent
// InfluxDB slows the worker down instead of losing points. Failed writes are logged and
// counted (Errors), and retried with backoff within the bounds of WriterParams; points the
// client had to give up are counted in Dropped and logged, never dropped silently.
type Writer struct {
	client influxdb2.Client
	wapi   api.WriteAPI
	log    *slog.Logger
	p      WriterParams

	// mu guards closed and the sends on queue: Write and Flush send under the read lock, Close
	// closes queue under the write lock, so nothing ever sends on a closed channel. Senders
	// blocked on a full queue still finish, because the feeder keeps draining it.
	mu      sync.RWMutex
	closed  bool
	queue   chan item
	fed     chan struct{}
	errDone chan struct{}
	// failing is set when a write fails and cleared when InfluxDB answers a ping again; while
	// it is set, feed holds points back until it has a full batch.
	failing atomic.Bool
	stop    chan struct{}
	watched chan struct{}

	points  atomic.Uint64
	errs    atomic.Uint64
	dropped atomic.Uint64
}

// item is one line of line protocol, or a flush request that the feeder answers by closing
// done once every line queued before it has been handed to the client and posted.
type item struct {
	line string
	done chan struct{}
}

// NewWriter returns a Writer with its own InfluxDB client. Close it to flush.
func NewWriter(p WriterParams) *Writer {
	p.BatchSize = cmp.Or(p.BatchSize, DefaultBatchSize)
	p.FlushInterval = cmp.Or(p.FlushInterval, DefaultFlushInterval)
	p.RetryBufferLimit = cmp.Or(p.RetryBufferLimit, DefaultRetryBufferLimit)
	p.MaxRetries = cmp.Or(p.MaxRetries, DefaultMaxRetries)
	p.MaxRetryTime = cmp.Or(p.MaxRetryTime, DefaultMaxRetryTime)
	p.RetryInterval = cmp.Or(p.RetryInterval, time.Second)
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}

	opts := influxdb2.DefaultOptions().
		// The writer forms the batches itself (feed) and hands each to the client as one record,
		// so the client's batch is one record and its retry queue holds RetryBufferLimit /
		// BatchSize of them. Its own flush timer only backs up ours.
		SetBatchSize(1).
		SetFlushInterval(uint(p.FlushInterval.Milliseconds())).
		SetRetryBufferLimit(uint(max(1, p.RetryBufferLimit/p.BatchSize))).
		SetMaxRetries(uint(p.MaxRetries)).
		SetMaxRetryTime(uint(p.MaxRetryTime.Milliseconds())).
		SetRetryInterval(uint(p.RetryInterval.Milliseconds())).
		SetMaxRetryInterval(uint((2 * time.Minute).Milliseconds())).
		SetHTTPRequestTimeout(10).
		SetApplicationName("vigil-worker")
	client := influxdb2.NewClientWithOptions(p.URL, p.Token, opts)
	w := &Writer{
		client:  client,
		wapi:    client.WriteAPI(p.Org, p.Bucket),
		log:     p.Logger.With("component", "tsdb_writer"),
		p:       p,
		queue:   make(chan item, queueFactor*p.BatchSize),
		fed:     make(chan struct{}),
		errDone: make(chan struct{}),
		stop:    make(chan struct{}),
		watched: make(chan struct{}),
	}
	w.wapi.SetWriteFailedCallback(w.onWriteFailed)
	errCh := w.wapi.Errors() // must be taken before the first write
	go w.readErrors(errCh)
	go w.feed()
	go w.watch()
	return w
}

// Ping reports whether InfluxDB answers; it does not check credentials (1.8 cannot).
func (w *Writer) Ping(ctx context.Context) error {
	ok, err := w.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("influxdb: ping %s: %w", w.p.URL, err)
	}
	if !ok {
		return fmt.Errorf("influxdb: ping %s: not ready", w.p.URL)
	}
	return nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("influxdb: writer closed")

// Write hands a check result to the batching writer. It returns once the point is queued,
// blocking only while the buffer is full; an error means the point was not taken.
func (w *Writer) Write(ctx context.Context, r monitor.Result) error {
	it := item{line: Line(r)}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.queue <- it:
		w.points.Add(1)
		if w.p.OnPoints != nil {
			w.p.OnPoints(1)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("influxdb: write %s: %w", r.WebsiteID, ctx.Err())
	}
}

// Flush posts every point written so far and waits until the client has tried to write it.
// The client tries the batches waiting for a retry once more, and drops (and Dropped counts)
// those that fail again: call it on the way out, not as a routine.
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.queue <- item{done: done}:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return fmt.Errorf("influxdb: flush: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("influxdb: flush: %w", ctx.Err())
	}
}

// Close flushes what is buffered and stops the writer. Writes must have stopped before it is
// called; later writes return ErrClosed.
func (w *Writer) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.queue)
	w.mu.Unlock()
	<-w.fed
	close(w.stop)
	<-w.watched
	w.client.Close() // flushes the client's buffer and retry queue
	<-w.errDone
}

// Points is how many points have been handed to the writer.
func (w *Writer) Points() uint64 { return w.points.Load() }

// Errors is how many write attempts failed (each failed batch counts once per attempt).
func (w *Writer) Errors() uint64 { return w.errs.Load() }

// Dropped is how many batches were given up after their retries ran out, plus, once
// InstallClientLogger has run, those the client discarded on its own.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() + clientDiscards.Load() }

// feed forms batches of BatchSize lines, or of what FlushInterval gathered, and hands each to
// the client as one record. While writes fail it sends only full batches, so that the client's
// retry queue, which counts batches, holds RetryBufferLimit points and not a few seconds of
// small batches; the rest waits here (at most BatchSize-1 lines) until InfluxDB is back.
func (w *Writer) feed() {
	defer close(w.fed)
	batch := make([]string, 0, w.p.BatchSize)
	send := func() {
		if len(batch) > 0 {
			w.wapi.WriteRecord(strings.Join(batch, "\n"))
			clear(batch)
			batch = batch[:0]
		}
	}
	tick := time.NewTicker(w.p.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case it, ok := <-w.queue:
			if !ok {
				send()
				return
			}
			if it.done != nil {
				send()
				w.wapi.Flush()
				close(it.done)
				continue
			}
			batch = append(batch, it.line)
			if len(batch) >= w.p.BatchSize {
				send()
			}
		case <-tick.C:
			if !w.failing.Load() {
				send()
			}
		}
	}
}

// watch pings InfluxDB every FlushInterval while writes fail, and clears failing when it
// answers, so that feed goes back to sending what each interval gathered.
func (w *Writer) watch() {
	defer close(w.watched)
	tick := time.NewTicker(w.p.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		if !w.failing.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(w.p.FlushInterval, time.Second))
		ok, err := w.client.Ping(ctx)
		cancel()
		if err == nil && ok {
			w.failing.Store(false)
			w.log.Info("influxdb answers again")
		}
	}
}

func (w *Writer) readErrors(errCh <-chan error) {
	defer close(w.errDone)
	for err := range errCh {
		w.errs.Add(1)
		if w.p.OnError != nil {
			w.p.OnError()
		}
		w.log.Error("influxdb write failed", "err", err, "errors_total", w.errs.Load())
	}
}

// onWriteFailed is the client's callback on a retryable failure (connection error, 429, 5xx).
// It lets the client retry, and counts the batch as dropped when this was its last attempt.
func (w *Writer) onWriteFailed(batch string, err apihttp.Error, attempts uint) bool {
	w.failing.Store(true)
	if attempts >= uint(w.p.MaxRetries) {
		w.dropped.Add(1)
		w.log.Error("influxdb batch dropped after its retries ran out",
			"attempts", attempts, "points", strings.Count(batch, "\n"), "err", err.Error())
		return false
	}
	w.log.Warn("influxdb write will be retried", "attempts", attempts, "err", err.Error())
	return true
}

// Line renders a check result as one line of line protocol, without the trailing newline.
// Hand-written because it runs for every check: no reflection, no intermediate Point.
func Line(r monitor.Result) string {
	var b strings.Builder
	b.Grow(256 + len(r.Message))
	b.WriteString(Measurement)
	b.WriteString(",region=")
	escapeTag(&b, r.Region)
	b.WriteString(",website_id=")
	escapeTag(&b, r.WebsiteID)
	b.WriteByte(' ')
	ms := func(name string, d time.Duration) {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64))
		b.WriteByte(',')
	}
	ms("response_ms", r.Phases.Total)
	ms("dns_ms", r.Phases.DNS)
	ms("connect_ms", r.Phases.Connect)
	ms("tls_ms", r.Phases.TLS)
	ms("ttfb_ms", r.Phases.TTFB)
	b.WriteString("status_code=")
	b.WriteString(strconv.Itoa(r.StatusCode))
	b.WriteString("i,up=")
	b.WriteString(strconv.FormatBool(r.Outcome.Available()))
	b.WriteString(",outcome=")
	quote(&b, string(r.Outcome))
	b.WriteString(",reason=")
	quote(&b, r.Reason)
	b.WriteString(",error=")
	quote(&b, r.Message)
	if !r.CertExpiry.IsZero() {
		days := r.CertExpiry.Sub(r.At).Hours() / 24
		days = math.Round(days*100) / 100
		b.WriteString(",cert_expiry_days=")
		b.WriteString(strconv.FormatFloat(days, 'f', -1, 64))
	}
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(at.UnixNano(), 10))
	return b.String()
}

// escapeTag escapes a tag value: commas, equals signs and spaces get a backslash; newlines,
// which line protocol cannot carry, become spaces.
func escapeTag(b *strings.Builder, s string) { escape(b, s, ",= ") }

// escape writes s with a backslash before each of special, and newlines, which line protocol
// cannot carry, as spaces.
func escape(b *strings.Builder, s, special string) {
	for _, r := range s {
		switch {
		case strings.ContainsRune(special, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
}

// quote writes a string field value: double quotes and backslashes are escaped, newlines (which
// would end the line) become spaces.
func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	escape(b, s, `"\`)
	b.WriteByte('"')
}

// clientDiscards counts the batches the influxdb client discarded on its own (a full retry
// buffer, an expired batch), which it reports only through its process-wide logger.
var clientDiscards atomic.Uint64

// InstallClientLogger routes the influxdb client's log through l, so that its messages come
// out as structured logs and the batches it discards on its own (a full retry buffer, an
// expired batch, a non-retryable error) are counted in every Writer's Dropped. The client's
// logger is a process-wide variable that it reads without synchronisation: call this once,
// at the start of main, before any client exists.
func InstallClientLogger(l *slog.Logger) {
	influxlog.Log = &clientLogger{log: l.With("component", "influxdb_client")}
}

type clientLogger struct{ log *slog.Logger }

func (c *clientLogger) Debugf(string, ...any)         {}
func (c *clientLogger) Debug(string)                  {}
func (c *clientLogger) Infof(string, ...any)          {}
func (c *clientLogger) Info(string)                   {}
func (c *clientLogger) Warnf(format string, v ...any) { c.Warn(fmt.Sprintf(format, v...)) }
func (c *clientLogger) Warn(msg string) {
	if strings.HasPrefix(msg, "Write error:") {
		// The client's path for errors it will not retry (partial write, unparsable points,
		// beyond the retention policy): the batch is gone.
		clientDiscards.Add(1)
		c.log.Error(strings.TrimSpace(msg))
		return
	}
	c.log.Warn(strings.TrimSpace(msg))
}
func (c *clientLogger) Errorf(format string, v ...any) { c.Error(fmt.Sprintf(format, v...)) }
func (c *clientLogger) Error(msg string) {
	// "Callback rejected batch, discarding" is our own onWriteFailed, counted there. A batch
	// that fails during Flush (which tries the retry queue once, without retrying) is lost.
	if (strings.Contains(msg, "discarding") && !strings.Contains(msg, "Callback rejected")) ||
		strings.Contains(msg, "Error flushing batch") {
		clientDiscards.Add(1)
	}
	c.log.Error(strings.TrimSpace(msg))
}
func (c *clientLogger) SetLogLevel(uint) {}
func (c *clientLogger) LogLevel() uint   { return influxlog.WarningLevel }
func (c *clientLogger) SetPrefix(string) {}
