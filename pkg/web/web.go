// Package web is Vigil's HTML side: the dashboard (login, overview, website detail,
// management) and the public status pages. Pages are rendered on the server with html/template,
// which escapes every user string; small script files then call the same REST API as any
// client, with the session cookie instead of a Bearer key. Templates, CSS, scripts and the
// vendored chart library (uPlot, fetched by scripts/vendor-ui) are embedded, so the api binary
// serves everything itself: no CDN, no Node.js at run time.
//
// Every page is sent with a Content-Security-Policy that allows scripts from this origin only
// (script-src 'self'), so an inline script that slipped through escaping would still not run.
//
// The handlers are echo.HandlerFuncs; the route table that mounts them, with each route's
// access policy, is pkg/httpapi/routes.go.
package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every page. Scripts, styles and fetches come from this
// origin only; nothing inline runs, and no other site may frame the pages.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Params are what the UI needs. DB and Logger are required.
type Params struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// Views are the status read model, shared with the API, that the pages take response
	// times, uptime and the daily bars from; with nil, or views without check results, the
	// pages show states (and the bars incident time) only.
	Views *status.Views
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// SessionTTL is how long a login lasts; 12 hours by default.
	SessionTTL time.Duration
	// MetricsTimeout bounds the InfluxDB part of a page, so that a slow InfluxDB costs a page
	// its numbers, never its states; 3 seconds by default.
	MetricsTimeout time.Duration
}

// UI serves the dashboard and the status pages.
type UI struct {
	log            *slog.Logger
	now            func() time.Time
	sessionTTL     time.Duration
	metricsTimeout time.Duration
	views          *status.Views

	websites    *postgres.WebsiteStore
	regions     *postgres.RegionStore
	keys        *postgres.APIKeyStore
	sessions    *postgres.SessionStore
	overview    *postgres.OverviewStore
	statusPages *postgres.StatusPageStore
	downtimes   *postgres.DowntimeStore

	pages map[string]*template.Template
	// assetVersion is a hash of the static files, appended to their URLs so that browsers may
	// cache them for a year and still pick up a new release at once.
	assetVersion string
	static       fs.FS
}

// New builds the UI and parses its templates.
func New(p Params) (*UI, error) {
	if p.DB == nil {
		return nil, errors.New("web: Params.DB is required")
	}
	if p.Logger == nil {
		return nil, errors.New("web: Params.Logger is required")
	}
	ui := &UI{
		log:            p.Logger,
		sessionTTL:     cmp.Or(p.SessionTTL, 12*time.Hour),
		metricsTimeout: cmp.Or(p.MetricsTimeout, 3*time.Second),
		views:          p.Views,
		websites:       p.DB.Websites(),
		regions:        p.DB.Regions(),
		keys:           p.DB.APIKeys(),
		sessions:       p.DB.Sessions(),
		overview:       p.DB.Overview(),
		statusPages:    p.DB.StatusPages(),
		downtimes:      p.DB.Downtimes(),
	}
	ui.now = p.Now
	if ui.now == nil {
		ui.now = time.Now
	}
	if ui.views == nil {
		ui.views = status.New(status.Params{States: ui.overview, Downtimes: ui.downtimes, Now: ui.now})
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	ui.static = static
	if ui.assetVersion, err = hashFS(static); err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	if err := ui.parseTemplates(); err != nil {
		return nil, err
	}
	return ui, nil
}

func hashFS(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.Write(fmt.Appendf(nil, "%s\x00%d\x00", p, len(b))) // a hash.Hash never fails a write
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12], err
}

// parseTemplates builds one template set per page: the layout plus the page's own file, so
// that every page can define the same block names.
func (ui *UI) parseTemplates() error {
	funcs := template.FuncMap{
		"asset": func(name string) string { return "/static/" + name + "?v=" + ui.assetVersion },
		"pct":   formatPct,
		"ms":    formatMS,
		"ago":   func(t *time.Time) string { return formatAgo(ui.now(), t) },
		"since": func(t *time.Time) string {
			if t == nil {
				return "–"
			}
			return formatDuration(ui.now().Sub(*t))
		},
		"duration": formatDuration,
		"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"label":    stateLabel,
		"join":     strings.Join,
		"add":      func(a, b int) int { return a + b },
		"cells":    barCells,
	}
	ui.pages = map[string]*template.Template{}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", f)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", name, err)
		}
		ui.pages[name] = t
	}
	return nil
}

// setSecurityHeaders is sent with every page and asset.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// view is what every template gets: the page's data and what the layout needs.
type view struct {
	Title string
	// Nav is the active dashboard section; empty on pages outside the dashboard.
	Nav string
	// CSRF is the session's token, for the logout form and for scripts (a meta tag).
	CSRF string
	// Scripts are the page's script files, under /static.
	Scripts []string
	// Public pages have no dashboard navigation.
	Public bool
	Data   any
}

// render writes a page. It renders into a buffer first, so that a template error becomes a
// clean 500 instead of half a page.
func (ui *UI) render(c echo.Context, status int, page string, v view) error {
	t, ok := ui.pages[page]
	if !ok {
		return fmt.Errorf("web: no template %q", page)
	}
	name := "layout.html"
	if c.QueryParam("partial") == "1" && t.Lookup("live") != nil {
		name = "live"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	h := c.Response().Header()
	setSecurityHeaders(h)
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// Static serves the embedded CSS, scripts and vendored files under /static/. Their URLs carry
// the asset version, so they may be cached for a year.
func (ui *UI) Static(c echo.Context) error {
	name := strings.TrimPrefix(c.Param("*"), "/")
	if name == "" || strings.Contains(name, "..") {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(ui.static, name)
	if err != nil {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	setSecurityHeaders(h)
	if c.QueryParam("v") == ui.assetVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	ctype := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	case ".png":
		ctype = "image/png"
	case "":
		ctype = "text/plain; charset=utf-8"
	}
	return c.Blob(http.StatusOK, ctype, b)
}

// Root sends the dashboard's visitors to the overview.
func (ui *UI) Root(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

// withTimeout is the metrics deadline.
func (ui *UI) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, ui.metricsTimeout)
}
