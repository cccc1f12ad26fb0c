package e2e

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
)

// flipTarget is a local website whose behaviour the test switches: it answers 200, 500, too
// slowly for the check's deadline, or drops the connection.
type flipTarget struct {
	srv  *httptest.Server
	mode atomic.Value // string
	hits atomic.Int64
}

func newFlipTarget(t *testing.T) *flipTarget {
	ft := &flipTarget{}
	ft.mode.Store("ok")
	ft.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ft.hits.Add(1)
		switch ft.mode.Load().(string) {
		case "error":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "slow":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			fmt.Fprintln(w, "late")
		case "closed":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			fmt.Fprintln(w, "all good")
		}
	}))
	t.Cleanup(ft.srv.Close)
	return ft
}

func (ft *flipTarget) set(mode string) { ft.mode.Store(mode) }

// monitorView is the part of GET /monitor's items the test reads.
type monitorView struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Outcome string `json:"outcome"`
	Regions []struct {
		Region      string     `json:"region"`
		Outcome     string     `json:"outcome"`
		StatusCode  *int       `json:"status_code"`
		LastCheckAt *time.Time `json:"last_check_at"`
	} `json:"regions"`
}

func (p *Platform) monitorItem(id string) monitorView {
	p.t.Helper()
	code, body := p.Do(http.MethodGet, "/monitor?limit=500", "")
	require.Equal(p.t, http.StatusOK, code, string(body))
	var list struct {
		Items []monitorView `json:"items"`
	}
	require.NoError(p.t, json.Unmarshal(body, &list))
	for _, it := range list.Items {
		if it.ID == id {
			return it
		}
	}
	p.t.Fatalf("website %s not in /monitor", id)
	return monitorView{}
}

// regionOutcomes is the latest outcome per region, for regions checked after since.
func (m monitorView) regionOutcomes(since time.Time) map[string]string {
	out := map[string]string{}
	for _, r := range m.Regions {
		if r.LastCheckAt != nil && r.LastCheckAt.After(since) {
			out[r.Region] = r.Outcome
		}
	}
	return out
}

// mailsTo returns the messages the sink holds for the recipient whose subject starts with
// prefix ("[DOWN]" or "[RECOVERED]").
func mailsTo(sink *smtpsink.Sink, rcpt, prefix string) []smtpsink.Message {
	var out []smtpsink.Message
	for _, m := range sink.Messages() {
		if !strings.Contains(strings.Join(m.To, ","), rcpt) {
			continue
		}
		if strings.Contains(subjectOf(m.Data), prefix) {
			out = append(out, m)
		}
	}
	return out
}

// subjectOf returns the decoded Subject header of a raw message.
func subjectOf(raw []byte) string {
	var subj strings.Builder
	inSubject := false
	for _, line := range strings.Split(string(raw), "\r\n") {
		switch {
		case strings.HasPrefix(line, "Subject:"):
			inSubject = true
			subj.WriteString(strings.TrimPrefix(line, "Subject:"))
		case inSubject && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
			subj.WriteString(line)
		default:
			inSubject = false
		}
		if line == "" {
			break
		}
	}
	return decodeHeader(subj.String())
}

// TestPipeline runs the whole platform as separate processes: the api, two schedulers, two
// workers for "eu" and one for "us", and the notifier, against the real PostgreSQL, Redis and
// InfluxDB and a real SMTP conversation. A website added through the API is checked from both
// regions; its target then fails, times out, drops connections and recovers, and the outcomes,
// the series and the emails must follow.
func TestPipeline(t *testing.T) {
	fp := newFaultPlatform(t)
	p := fp.Platform
	sink, err := smtpsink.Start("127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sink.Close()) })
	_, port, err := net.SplitHostPort(sink.Addr())
	require.NoError(t, err)
	p.Env = append(p.Env, "SMTP_HOST=127.0.0.1", "SMTP_PORT="+port, "VIGIL_SMTP_TLS=none",
		"SMTP_FROM=vigil@example.com", "VIGIL_RECLAIM_GRACE=2s")

	apiMetrics := freeAddr(t)
	p.Env = append(p.Env, "VIGIL_METRICS_ADDR="+apiMetrics)
	p.StartAPI()
	p.Env = p.Env[:len(p.Env)-1]
	for _, r := range []string{"eu", "us"} {
		code, body := p.Do(http.MethodPost, "/regions", fmt.Sprintf(`{"name":%q}`, r))
		require.Equal(t, http.StatusCreated, code, string(body))
	}
	_, sched1 := p.StartWithMetrics("scheduler-1", "scheduler")
	_, sched2 := p.StartWithMetrics("scheduler-2", "scheduler")
	_, workerEU1 := p.StartWithMetrics("worker-eu-1", "worker", "--region", "eu")
	_, workerEU2 := p.StartWithMetrics("worker-eu-2", "worker", "--region", "eu")
	_, workerUS := p.StartWithMetrics("worker-us-1", "worker", "--region", "us")
	_, notifierMetrics := p.StartWithMetrics("notifier", "notifier")

	target := newFlipTarget(t)
	const (
		interval = 10 * time.Second
		// The shortest retry an install allows: the minimum interval (issue 11) bounds
		// confirmation retries too.
		retry    = 10 * time.Second
		confirmN = 2
	)
	added := time.Now()
	code, body := p.Do(http.MethodPost, "/websites", fmt.Sprintf(`{
		"name": "shop", "url": %q, "interval_seconds": %d, "timeout_ms": 1000,
		"retry_interval_seconds": %d, "confirmations_down": %d,
		"alert_emails": ["oncall@example.com", "cto@example.com"]}`,
		target.srv.URL+"/health", int(interval.Seconds()), int(retry.Seconds()), confirmN))
	require.Equal(t, http.StatusCreated, code, string(body))
	var site struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &site))

	// Both regions report within one interval plus 2 s (plus the roles' start-up), in
	// /monitor and in the series.
	require.Eventually(t, func() bool {
		got := p.monitorItem(site.ID).regionOutcomes(added)
		return got["eu"] == "up" && got["us"] == "up"
	}, interval+2*time.Second+5*time.Second, 200*time.Millisecond, "both regions report up")
	require.Eventually(t, func() bool {
		points := fp.PointTimes()
		return len(points[site.ID+"/eu"]) > 0 && len(points[site.ID+"/us"]) > 0
	}, interval+2*time.Second+5*time.Second-time.Since(added), 100*time.Millisecond, "both regions' points in InfluxDB")
	t.Logf("first results from both regions in /monitor and InfluxDB %s after the website was added",
		time.Since(added).Round(time.Millisecond))
	// The first request for the series, so no cached answer: it has both regions.
	code, body = p.Do(http.MethodGet, "/monitor/"+site.ID+"?days=1", "")
	require.Equal(t, http.StatusOK, code, string(body))
	var series struct {
		Series []struct {
			Region string `json:"region"`
			Points []struct {
				MeanMS *float64 `json:"mean_ms"`
			} `json:"points"`
		} `json:"series"`
	}
	require.NoError(t, json.Unmarshal(body, &series))
	regionsWithPoints := map[string]bool{}
	for _, s := range series.Series {
		for _, pt := range s.Points {
			if pt.MeanMS != nil {
				regionsWithPoints[s.Region] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"eu": true, "us": true}, regionsWithPoints, string(body))
	require.Empty(t, sink.Messages(), "an up website sends nothing")
	checksEU := func() float64 {
		a, _ := p.Scrape(workerEU1, "vigil_checks_total", map[string]string{"region": "eu"})
		b, _ := p.Scrape(workerEU2, "vigil_checks_total", map[string]string{"region": "eu"})
		return a + b
	}
	dispatched := func() float64 {
		a, _ := p.Scrape(sched1, "vigil_scheduler_dispatched_total", nil)
		b, _ := p.Scrape(sched2, "vigil_scheduler_dispatched_total", nil)
		return a + b
	}
	checksBefore, dispatchedBefore := checksEU(), dispatched()
	require.Positive(t, checksBefore, "the eu workers count their checks")

	// A blip: one failed check, then the confirmation retry finds the site up again. Nothing
	// is sent and no downtime is recorded.
	blip := newFlipTarget(t)
	code, body = p.Do(http.MethodPost, "/websites", fmt.Sprintf(`{
		"name": "blippy", "url": %q, "interval_seconds": 10, "timeout_ms": 1000, "regions": ["eu"],
		"retry_interval_seconds": %d, "confirmations_down": 2, "alert_emails": ["blip@example.com"]}`,
		blip.srv.URL+"/", int(retry.Seconds())))
	require.Equal(t, http.StatusCreated, code, string(body))
	var blipSite struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &blipSite))
	require.Eventually(t, func() bool {
		return p.monitorItem(blipSite.ID).regionOutcomes(time.Time{})["eu"] == "up"
	}, interval+7*time.Second, 100*time.Millisecond, "the blip site is checked")
	blip.set("error")
	failedAt := time.Now()
	require.Eventually(t, func() bool {
		return p.monitorItem(blipSite.ID).regionOutcomes(failedAt)["eu"] == "down"
	}, interval+2*time.Second, 50*time.Millisecond, "one failed check")
	blip.set("ok") // before the retry
	recoveredAt := time.Now()
	require.Eventually(t, func() bool {
		return p.monitorItem(blipSite.ID).regionOutcomes(recoveredAt)["eu"] == "up"
	}, retry+5*time.Second, 100*time.Millisecond, "the retry finds it up")

	// The target starts answering 500: one DOWN email per recipient, within the time to the
	// next check + (N-1) retries + 5 s.
	target.set("error")
	downAt := time.Now()
	bound := interval + time.Duration(confirmN-1)*retry + 5*time.Second
	require.Eventually(t, func() bool {
		return len(mailsTo(sink, "oncall@example.com", "[DOWN]")) == 1 &&
			len(mailsTo(sink, "cto@example.com", "[DOWN]")) == 1
	}, bound, 100*time.Millisecond, "one DOWN email per recipient")
	t.Logf("DOWN email %s after the outage began (bound %s)", time.Since(downAt).Round(time.Millisecond), bound)
	down := mailsTo(sink, "oncall@example.com", "[DOWN]")[0]
	require.Contains(t, subjectOf(down.Data), "shop")
	require.Contains(t, string(down.Data), target.srv.URL)
	require.Equal(t, "down", p.monitorItem(site.ID).State)

	// Timeouts and dropped connections are failures too, and the incident stays one incident:
	// no second DOWN email.
	for _, mode := range []struct{ name, outcome string }{{"slow", "timeout"}, {"closed", "down"}} {
		target.set(mode.name)
		since := time.Now()
		require.Eventually(t, func() bool {
			got := p.monitorItem(site.ID).regionOutcomes(since)
			return got["eu"] == mode.outcome && got["us"] == mode.outcome
		}, interval+retry+5*time.Second, 200*time.Millisecond, "outcome %s for mode %s", mode.outcome, mode.name)
	}
	require.Len(t, mailsTo(sink, "oncall@example.com", "[DOWN]"), 1, "one incident, one email")

	// It comes back: exactly one RECOVERED email per recipient, with the downtime's duration.
	target.set("ok")
	require.Eventually(t, func() bool {
		return len(mailsTo(sink, "oncall@example.com", "[RECOVERED]")) == 1 &&
			len(mailsTo(sink, "cto@example.com", "[RECOVERED]")) == 1
	}, interval+retry+5*time.Second, 100*time.Millisecond, "one RECOVERED email per recipient")
	recovered := subjectOf(mailsTo(sink, "oncall@example.com", "[RECOVERED]")[0].Data)
	require.Contains(t, recovered, "down for", recovered)

	// Each region's downtime closes once that region has seen the recovery, and each starts at
	// the region's first failing check.
	var periods []struct {
		Region    string     `json:"region"`
		StartedAt time.Time  `json:"started_at"`
		EndedAt   *time.Time `json:"ended_at"`
	}
	require.Eventually(t, func() bool {
		code, body := p.Do(http.MethodGet, "/monitor/"+site.ID+"/downtime?days=1", "")
		require.Equal(t, http.StatusOK, code, string(body))
		var page struct {
			Downtimes json.RawMessage `json:"downtimes"`
		}
		require.NoError(t, json.Unmarshal(body, &page), string(body))
		require.NoError(t, json.Unmarshal(page.Downtimes, &periods), string(body))
		for _, d := range periods {
			if d.EndedAt == nil {
				return false
			}
		}
		return len(periods) == 2
	}, interval+retry+5*time.Second, 200*time.Millisecond, "both regional downtimes close")
	for _, d := range periods {
		require.WithinDuration(t, downAt, d.StartedAt, interval+time.Second,
			"region %s's downtime starts at its first failing check", d.Region)
	}

	code, body = p.Do(http.MethodGet, "/incidents?state=resolved&website_id="+site.ID, "")
	require.Equal(t, http.StatusOK, code, string(body))
	var incidents struct {
		Items []json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal(body, &incidents))
	require.Len(t, incidents.Items, 1, string(body))

	// Nothing more is sent once the site is steady, and the blip sent nothing at all.
	require.Len(t, sink.Messages(), 4, "two DOWN and two RECOVERED emails, nothing else")
	require.Empty(t, mailsTo(sink, "blip@example.com", ""), "a single failed check pages no one")
	code, body = p.Do(http.MethodGet, "/monitor/"+blipSite.ID+"/last_downtime?days=1", "")
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, "null", strings.TrimSpace(string(body)), "and records no downtime")

	// Every role's /metrics moved with the checks.
	require.Greater(t, checksEU(), checksBefore, "vigil_checks_total grows")
	require.Greater(t, dispatched(), dispatchedBefore, "vigil_scheduler_dispatched_total grows")
	failed, _ := p.Scrape(workerUS, "vigil_checks_total", map[string]string{"region": "us", "outcome": "down"})
	require.Positive(t, failed, "the us worker counted failed checks")
	timeouts, _ := p.Scrape(workerUS, "vigil_checks_total", map[string]string{"region": "us", "outcome": "timeout"})
	require.Positive(t, timeouts, "and timeouts")
	durations, found := p.Scrape(workerUS, "vigil_check_duration_seconds", nil)
	require.True(t, found)
	require.Positive(t, durations)
	writeErrors, found := p.Scrape(workerUS, "vigil_tsdb_write_errors_total", nil)
	require.True(t, found)
	require.Zero(t, writeErrors)
	leaders1, _ := p.Scrape(sched1, "vigil_scheduler_leader", nil)
	leaders2, _ := p.Scrape(sched2, "vigil_scheduler_leader", nil)
	require.Equal(t, 1.0, leaders1+leaders2, "exactly one scheduler leads")
	lag, found := p.Scrape(sched1, "vigil_scheduler_dispatch_lag_seconds", nil)
	if leaders2 == 1 {
		lag, found = p.Scrape(sched2, "vigil_scheduler_dispatch_lag_seconds", nil)
	}
	require.True(t, found)
	require.Positive(t, lag, "the leader observes its dispatch lag")
	sent, _ := p.Scrape(notifierMetrics, "vigil_notifications_total", map[string]string{"channel": "email", "result": "sent"})
	require.Equal(t, 4.0, sent, "four emails sent")
	open, found := p.Scrape(notifierMetrics, "vigil_incidents_open", nil)
	require.True(t, found)
	require.Zero(t, open, "the incident is resolved")
	_, found = p.Scrape(notifierMetrics, "vigil_events_pending", nil)
	require.True(t, found, "the notifier exports its event backlog")
	requests, _ := p.Scrape("http://"+apiMetrics+"/metrics", "vigil_http_requests_total", nil)
	require.Positive(t, requests, "the api counts its requests")
}

// decodeHeader decodes RFC 2047 encoded words, as mail clients show them.
func decodeHeader(s string) string {
	d := new(mime.WordDecoder)
	out, err := d.DecodeHeader(strings.TrimSpace(s))
	if err != nil {
		return s
	}
	return out
}
