package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// chromiumPath is Debian's chromium, which .ci/run installs; VIGIL_CHROMIUM overrides it.
func chromiumPath(t *testing.T) string {
	p := os.Getenv("VIGIL_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need chromium at %s (apt-get install -y chromium)", p)
		}
		t.Skipf("no chromium at %s (apt-get install -y chromium)", p)
	}
	return p
}

// screenshotDir is where the browser test saves its screenshots: VIGIL_SCREENSHOT_DIR, or
// .stack/screenshots.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("VIGIL_SCREENSHOT_DIR"); d != "" {
		return d
	}
	// By default the screenshots go to an ignored folder, so a test run leaves the tree clean;
	// `make screenshots` refreshes the committed ones in docs/screenshots.
	return filepath.Join("..", "..", ".stack", "screenshots")
}

const xssName = `<img src=x onerror=alert(1)>`

// browser is a headless Chromium with a fresh profile, and what it reported.
type browser struct {
	ctx        context.Context
	mu         sync.Mutex
	dialogs    []string
	exceptions []string
}

func newBrowser(t *testing.T) *browser {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	exceptions := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, ev.ExceptionDetails.Text)
			b.mu.Unlock()
		}
	}()
	return b
}

// run runs steps with a deadline, so that a page that never shows what the test waits for
// fails the test instead of hanging it.
func (b *browser) run(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

func (b *browser) text(t *testing.T, js string) string {
	t.Helper()
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	require.NoError(t, err, js)
	return out
}

// poll waits until the expression is true.
func (b *browser) poll(t *testing.T, js string, timeout time.Duration) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		main, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		t.Logf("page when the wait failed:\n%s", main)
	}
	require.NoError(t, err, js)
}

func (b *browser) shot(t *testing.T, name string, width, height int64) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.run(t, chromedp.EmulateViewport(width, height, opts...),
		chromedp.Sleep(400*time.Millisecond)) // let layout and the chart's resize settle
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	dir := screenshotDir(t)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

func desktop() chromedp.Action[chromedp.Void] { return chromedp.EmulateViewport(1280, 800) }

// TestBrowser drives the dashboard in headless Chromium against the real API, PostgreSQL and
// InfluxDB: it logs in with a key, adds a website through the form, watches it turn up (check
// results are written to InfluxDB and states to PostgreSQL directly, as the worker and notifier
// would), opens its chart, creates a status page and reads it logged out. A website named like
// an XSS payload shows as text, and no dialog ever opens.
func TestBrowser(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(target.Close)
	regions := []string{"europe", "us-east"}
	for _, r := range regions {
		code, body := s.api(t, "POST", "/regions", `{"name":"`+r+`"}`)
		require.Equal(t, http.StatusCreated, code, body)
	}
	seedNeighbours(t, s, regions)

	// Log in: the dashboard sends an anonymous visitor to the form, and back after it.
	b.run(t, desktop(), chromedp.Navigate(s.http.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#key")))
	b.run(t, chromedp.SendKeys(chromedp.CSS("#key"), "vgl_wrong"), chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS(".alert")))
	require.Contains(t, b.text(t, `document.querySelector(".alert").textContent`), "not valid")
	b.run(t, chromedp.SendKeys(chromedp.CSS("#key"), s.key), chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS("#live")))

	// Add a website through the form; a validation error shows next to its field first.
	b.run(t, chromedp.Navigate(s.http.URL+"/dashboard/websites/new"), chromedp.WaitVisible(chromedp.CSS("#f-name")))
	b.run(t, chromedp.SetValue(chromedp.CSS("#f-name"), "Example API"),
		chromedp.SetValue(chromedp.CSS("#f-url"), "ftp://nope"),
		chromedp.Click(chromedp.CSS(`#website-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-error-for="url"]:not(:empty)`)))
	b.run(t, chromedp.SetValue(chromedp.CSS("#f-url"), target.URL+"/health"),
		chromedp.SetValue(chromedp.CSS("#f-emails"), "ops@example.com"),
		chromedp.Click(chromedp.CSS(`#website-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#detail")))
	id := b.text(t, `document.getElementById("detail").dataset.id`)
	require.Len(t, id, 36)
	code, body := s.api(t, "GET", "/websites/"+id, "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"alert_emails":["ops@example.com"]`)

	// Watch it turn up on the overview without a reload.
	b.run(t, chromedp.Navigate(s.http.URL+"/dashboard?q=Example"), chromedp.WaitVisible(chromedp.CSS(`li.site[data-id="`+id+`"]`)))
	require.Equal(t, "Unknown", b.text(t, `document.querySelector('li.site[data-id="`+id+`"] .badge').textContent.trim()`))
	// A website just added has only recent checks: three hours' worth, with a short outage.
	s.history(t, id, regions, 0, 3*time.Hour, 120*time.Millisecond, func(at time.Time, _ string) (monitor.Outcome, int) {
		if at.After(time.Now().Add(-100*time.Minute)) && at.Before(time.Now().Add(-80*time.Minute)) {
			return monitor.OutcomeDown, 503
		}
		return monitor.OutcomeUp, 200
	})
	s.incident(t, id, regions, time.Now().Add(-100*time.Minute), ptr(time.Now().Add(-80*time.Minute)), "down", "status", 503)
	for _, r := range regions {
		s.regionState(t, id, r, "up")
	}
	b.poll(t, `document.querySelector('li.site[data-id="`+id+`"] .badge').textContent.trim() === "Up"`, 30*time.Second)
	require.NotEqual(t, "–", b.text(t, `document.querySelector('li.site[data-id="`+id+`"] .stats dd').textContent.trim()`),
		"the response time shows")

	// Its detail page draws one line per region, with the downtime shaded.
	b.run(t, chromedp.Navigate(s.http.URL+"/dashboard/websites/"+id),
		chromedp.WaitVisible(chromedp.CSS("#chart canvas")))
	b.poll(t, `document.querySelectorAll("#chart .u-legend .u-series").length === 3 && document.querySelector("#phases .hbar") !== null && document.querySelector("#downtime table") !== null`, 20*time.Second)
	legend := b.text(t, `document.querySelector("#chart .u-legend").textContent`)
	require.Contains(t, legend, "europe")
	require.Contains(t, legend, "us-east")
	require.NotEqual(t, "–", b.text(t, `document.getElementById("p95").textContent`))
	require.Contains(t, b.text(t, `document.getElementById("codes").textContent`), "503")
	require.Contains(t, b.text(t, `document.getElementById("incidents").textContent`), "Resolved")
	// The screenshots show a website with a longer history.
	b.run(t, chromedp.Navigate(s.http.URL+"/dashboard?q=Checkout"), chromedp.WaitVisible(chromedp.CSS("li.site a")),
		chromedp.Click(chromedp.CSS("li.site a")), chromedp.WaitVisible(chromedp.CSS("#chart canvas")))
	b.poll(t, `document.querySelector("#downtime table") !== null && document.querySelector("#incidents table") !== null`, 20*time.Second)
	b.shot(t, "detail-desktop", 1280, 800)
	b.shot(t, "detail-phone", 390, 844)

	// A website named like markup shows as text, and nothing runs.
	code, body = s.api(t, "POST", "/websites", `{"name":`+jsonString(xssName)+`,"url":"`+target.URL+`/x"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var xss struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &xss))
	b.run(t, desktop(), chromedp.Navigate(s.http.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#live")))
	require.Contains(t, b.text(t, `document.getElementById("live").innerText`), xssName)
	require.Equal(t, "0", b.text(t, `String(document.querySelectorAll("main img").length)`))
	b.shot(t, "overview-desktop", 1280, 800)
	b.shot(t, "overview-phone", 390, 844)
	b.run(t, desktop(), chromedp.Navigate(s.http.URL+"/dashboard/websites/"+xss.ID), chromedp.WaitVisible(chromedp.CSS("#detail")))
	require.Equal(t, xssName, b.text(t, `document.querySelector("#detail h1 .name").textContent`))

	// Create a status page through the form, picking websites by name.
	b.run(t, chromedp.Navigate(s.http.URL+"/dashboard/status-pages/new"), chromedp.WaitVisible(chromedp.CSS("#s-title")))
	b.run(t, chromedp.SetValue(chromedp.CSS("#s-title"), "Acme status"),
		chromedp.SetValue(chromedp.CSS("#s-slug"), "acme"),
		chromedp.SetValue(chromedp.CSS("#s-desc"), "Live status of Acme's public services."))
	for _, name := range []string{"Example API", "Checkout", "Search", "img src"} {
		b.run(t, chromedp.SendKeys(chromedp.CSS(".g-search"), name),
			chromedp.WaitVisible(chromedp.CSS(".picker-results button")),
			chromedp.Click(chromedp.CSS(".picker-results button")),
			chromedp.WaitNotPresent(chromedp.CSS(".picker-results button")))
	}
	b.run(t, chromedp.Click(chromedp.CSS(`#status-page-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/status/acme"]`)))

	// Log out, then read the page as the public does.
	b.run(t, chromedp.Click(chromedp.CSS(`.logout button`)), chromedp.WaitVisible(chromedp.CSS("#key")))
	_, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{})
	require.NoError(t, err)
	b.run(t, chromedp.Navigate(s.http.URL+"/status/acme"), chromedp.WaitVisible(chromedp.CSS(".overall")))
	pageText := b.text(t, `document.body.innerText`)
	for _, want := range []string{"Acme status", "Example API", xssName, "Incident history"} {
		require.Contains(t, pageText, want)
	}
	require.NotContains(t, pageText, target.URL, "URLs are opt-in")
	require.NotContains(t, pageText, "Log out")
	b.shot(t, "status-desktop", 1280, 800)
	b.shot(t, "status-phone", 390, 844)

	// The logged-out browser cannot reach the dashboard or the API.
	b.run(t, desktop(), chromedp.Navigate(s.http.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#key")))

	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.dialogs, "no script from a website's name ran")
	require.Empty(t, b.exceptions, "no script failed")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// seedNeighbours adds websites in every state, with 90 days of history, so that the overview
// and the status page look like a working installation.
func seedNeighbours(t *testing.T, s *stack, regions []string) {
	t.Helper()
	now := time.Now()
	type site struct {
		name, path string
		state      string
		base       time.Duration
		bad        func(at time.Time) bool
	}
	day := 24 * time.Hour
	sites := []site{
		{"Checkout", "/checkout", "up", 180 * time.Millisecond, func(at time.Time) bool {
			return (at.After(now.Add(-40*day)) && at.Before(now.Add(-40*day+3*time.Hour))) ||
				(at.After(now.Add(-7*time.Hour)) && at.Before(now.Add(-6*time.Hour-30*time.Minute)))
		}},
		{"Search", "/search", "degraded", 95 * time.Millisecond, func(at time.Time) bool {
			return at.After(now.Add(-12*day)) && at.Before(now.Add(-12*day+time.Hour))
		}},
		{"Payments webhook", "/hooks", "down", 240 * time.Millisecond, func(at time.Time) bool {
			return at.After(now.Add(-25 * time.Minute))
		}},
		{"Docs", "/docs", "up", 60 * time.Millisecond, func(time.Time) bool { return false }},
		{"Status mirror", "/mirror", "unknown", 0, nil},
		{"Legacy admin", "/admin", "paused", 300 * time.Millisecond, func(time.Time) bool { return false }},
	}
	for _, st := range sites {
		enabled := st.state != "paused"
		code, body := s.api(t, "POST", "/websites", `{"name":`+jsonString(st.name)+`,"url":"https://`+strings.ToLower(strings.ReplaceAll(st.name, " ", "-"))+`.example.com`+st.path+`","enabled":`+map[bool]string{true: "true", false: "false"}[enabled]+`}`)
		require.Equal(t, http.StatusCreated, code, body)
		var w struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(body), &w))
		if st.bad == nil {
			continue
		}
		s.history(t, w.ID, regions, 90, 24*time.Hour, st.base, func(at time.Time, region string) (monitor.Outcome, int) {
			if st.bad(at) && (st.state != "degraded" || region == "europe") {
				if at.After(now.Add(-day)) && st.state == "up" {
					return monitor.OutcomeDown, 502
				}
				return monitor.OutcomeTimeout, 0
			}
			return monitor.OutcomeUp, 200
		})
		switch st.state {
		case "up", "paused":
			for _, r := range regions {
				s.regionState(t, w.ID, r, "up")
			}
		case "degraded":
			s.regionState(t, w.ID, "europe", "down")
			s.regionState(t, w.ID, "us-east", "up")
		case "down":
			for _, r := range regions {
				s.regionState(t, w.ID, r, "down")
			}
			s.incident(t, w.ID, regions, now.Add(-25*time.Minute), nil, "timeout", "timeout", 0)
		}
		if st.name == "Checkout" {
			s.incident(t, w.ID, regions, now.Add(-40*day), ptr(now.Add(-40*day+3*time.Hour)), "timeout", "timeout", 0)
			s.incident(t, w.ID, regions, now.Add(-7*time.Hour), ptr(now.Add(-6*time.Hour-30*time.Minute)), "down", "status", 502)
		}
	}
}
