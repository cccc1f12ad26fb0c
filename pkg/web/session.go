package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// Names of the cookies and of the header that carries the CSRF token on fetch calls.
const (
	SessionCookie   = "vigil_session"
	loginCSRFCookie = "vigil_login_csrf"
	// CSRFHeader must carry the session's CSRF token on every state-changing API call made
	// with the session cookie. A cross-site page can neither read the token nor set a custom
	// header on a simple request, and SameSite=Strict already keeps the cookie off
	// cross-site requests: two independent locks.
	CSRFHeader = "X-CSRF-Token"
)

// Errors of Sessions.Authenticate.
var (
	// ErrNoSession means the request carries no live session: no cookie, an unknown or
	// expired one, or one whose key was revoked.
	ErrNoSession = errors.New("web: no session")
	// ErrCSRF means a state-changing request with a session cookie lacked the right token.
	ErrCSRF = errors.New("web: missing or wrong CSRF token")
)

// SessionLookup is the part of postgres.SessionStore that Authenticate uses.
type SessionLookup interface {
	Lookup(ctx context.Context, token string) (postgres.Session, error)
}

// Sessions lets the REST API accept the dashboard's session cookie as well as a Bearer key.
type Sessions struct {
	store SessionLookup
}

// NewSessions returns Sessions on store.
func NewSessions(store SessionLookup) *Sessions {
	return &Sessions{store: store}
}

// Authenticate returns the id of the API key behind the request's session cookie. A request
// whose method changes state must also carry the session's CSRF token in CSRFHeader.
func (s *Sessions) Authenticate(r *http.Request) (string, error) {
	sess, err := s.lookup(r)
	if err != nil {
		return "", err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !equalTokens(r.Header.Get(CSRFHeader), sess.CSRFToken) {
			return "", ErrCSRF
		}
	}
	return sess.KeyID, nil
}

func (s *Sessions) lookup(r *http.Request) (postgres.Session, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return postgres.Session{}, ErrNoSession
	}
	sess, err := s.store.Lookup(r.Context(), ck.Value)
	if errors.Is(err, monitor.ErrNotFound) {
		return postgres.Session{}, ErrNoSession
	}
	if err != nil {
		return postgres.Session{}, fmt.Errorf("web: session: %w", err)
	}
	return sess, nil
}

func equalTokens(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// secure reports whether cookies may be marked Secure: the request came over TLS, directly or
// through a proxy that says so.
func secure(c echo.Context) bool { return c.Scheme() == "https" }

type loginData struct {
	Next  string
	Error string
}

// LoginPage shows the login form. A visitor who is already logged in goes straight on.
func (ui *UI) LoginPage(c echo.Context) error {
	if _, err := NewSessions(ui.sessions).lookup(c.Request()); err == nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return ui.renderLogin(c, http.StatusOK, "")
}

// renderLogin sets a fresh login CSRF cookie and shows the form with the same token: the
// double-submit pattern, since there is no session yet to bind a token to.
func (ui *UI) renderLogin(c echo.Context, status int, msg string) error {
	token, err := randomToken()
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: loginCSRFCookie, Value: token, Path: "/login", MaxAge: 3600,
		HttpOnly: true, Secure: secure(c), SameSite: http.SameSiteStrictMode,
	})
	return ui.render(c, status, "login", view{
		Title: "Log in", CSRF: token, Public: true,
		Data: loginData{Next: safeNext(c.QueryParam("next")), Error: msg},
	})
}

// Login checks the pasted API key and opens a session bound to it.
func (ui *UI) Login(c echo.Context) error {
	ck, err := c.Cookie(loginCSRFCookie)
	if err != nil || !equalTokens(ck.Value, c.FormValue("csrf")) {
		return ui.renderLogin(c, http.StatusForbidden, "Your login form expired. Please try again.")
	}
	key := strings.TrimSpace(c.FormValue("key"))
	if key == "" || len(key) > 512 {
		return ui.renderLogin(c, http.StatusUnauthorized, "Paste an API key to log in.")
	}
	ctx := c.Request().Context()
	k, err := ui.keys.Authenticate(ctx, key)
	if errors.Is(err, monitor.ErrNotFound) {
		ui.log.Info("web: login refused", "remote_ip", c.RealIP())
		return ui.renderLogin(c, http.StatusUnauthorized, "That API key is not valid, or it was revoked.")
	}
	if err != nil {
		return fmt.Errorf("web: login: %w", err)
	}
	sess, err := ui.sessions.Create(ctx, k.ID, ui.sessionTTL)
	if err != nil {
		return fmt.Errorf("web: login: %w", err)
	}
	ui.log.Info("web: login", "api_key_id", k.ID)
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: secure(c), SameSite: http.SameSiteStrictMode,
	})
	c.SetCookie(&http.Cookie{Name: loginCSRFCookie, Path: "/login", MaxAge: -1})
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

// Logout ends the session. It is a POST with the session's CSRF token, so that another site
// cannot log a user out.
func (ui *UI) Logout(c echo.Context) error {
	sess, err := NewSessions(ui.sessions).lookup(c.Request())
	if err == nil {
		if !equalTokens(c.FormValue("csrf"), sess.CSRFToken) {
			return echo.NewHTTPError(http.StatusForbidden, "missing or wrong CSRF token")
		}
		if err := ui.sessions.Delete(c.Request().Context(), sess.Token); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: secure(c), SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/login")
}

// ctxSession is where RequireSession leaves the session.
const ctxSession = "web_session"

// RequireSession is the session policy of the dashboard's pages: without a live session the
// visitor is sent to the login form, and comes back to the page after it.
func (ui *UI) RequireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := NewSessions(ui.sessions).lookup(c.Request())
		if errors.Is(err, ErrNoSession) {
			if c.QueryParam("partial") == "1" {
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		if err != nil {
			return err
		}
		c.Set(ctxSession, sess)
		return next(c)
	}
}

// page gives a page handler its session. Pages are mounted behind RequireSession; page checks
// again if they are not, so that a page can never be served without a session.
func (ui *UI) page(h func(echo.Context, postgres.Session) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		if sess, ok := c.Get(ctxSession).(postgres.Session); ok {
			return h(c, sess)
		}
		return ui.RequireSession(func(c echo.Context) error {
			return h(c, c.Get(ctxSession).(postgres.Session))
		})(c)
	}
}

// Bounds and fallback of a post-login redirect target.
const (
	// maxNextBytes bounds next; the dashboard's own URLs are far shorter.
	maxNextBytes = 2048
	// fallbackNext is where a login goes when next is missing or unsafe: the page "/" would
	// redirect to anyway.
	fallbackNext = "/dashboard"
)

// safeNext keeps a post-login redirect on this site. Browsers parse a Location leniently:
// they drop tabs and newlines anywhere, read a backslash as a slash, strip leading spaces and
// controls, and resolve dot segments, "%2e%2e" included, so "/\t/evil.example" becomes
// "//evil.example", another host. Rather than predict every such rule, safeNext accepts only
// printable ASCII without spaces or backslashes, which browsers and net/url parse alike, that
// parses as a bare path; and that path may have no empty segment ("//"), no dot segment, and
// no backslash or control character once its escapes are decoded, none of which a link of the
// dashboard ever has. Anything else goes to fallbackNext.
func safeNext(next string) string {
	if next == "" || len(next) > maxNextBytes || next[0] != '/' {
		return fallbackNext
	}
	for i := range len(next) {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return fallbackNext
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.ContainsFunc(u.Path, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return fallbackNext
	}
	segs := strings.Split(u.EscapedPath(), "/")[1:]
	for i, seg := range segs {
		seg, err := url.PathUnescape(seg)
		if err != nil || seg == "." || seg == ".." || seg == "" && i < len(segs)-1 || strings.HasPrefix(seg, "/") {
			return fallbackNext
		}
	}
	return next
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("web: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
