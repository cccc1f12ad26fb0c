// Package httpapi is Vigil's REST API on Echo v4: the route table (routes.go), thin handlers
// (one file per resource), the API-key middleware and the one error handler that turns errors
// into statuses and the JSON error body.
//
// To add a resource: write its handlers as methods on *Server in a new file, add its store to
// Server (and Params if it needs more than the pool), add its lines to routes.go with an access
// policy, and describe the routes in openapi.yaml. The tests fail if a route lacks a policy or
// a description.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/vigil-monitor/vigil/pkg/postgres"
	"github.com/vigil-monitor/vigil/pkg/status"
	"github.com/vigil-monitor/vigil/pkg/web"
)

// RegionKeyDropper removes what Redis holds for a region (*queue.RegionKeys).
type RegionKeyDropper interface {
	Drop(ctx context.Context, region string) (int, error)
}

// RedisPinger pings Redis for /readyz (connect.RedisCheck(rdb).Ping).
type RedisPinger func(ctx context.Context) error

// InfluxPinger is the part of an InfluxDB client that /readyz uses. Ping works on InfluxDB 2.x
// and on 1.8's v2-compatible API alike.
type InfluxPinger interface {
	Ping(ctx context.Context) (bool, error)
}

// Params are what the API needs. DB and Logger are required.
type Params struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// Redis and Influx are pinged by /readyz; nil ones are not checked.
	Redis  RedisPinger
	Influx InfluxPinger
	// CheckTarget refuses a website or webhook URL that the SSRF guard would never reach
	// (probe.Guard.CheckURL); the API then answers 422 on the field. Nil checks nothing.
	CheckTarget func(*url.URL) error
	// ReadyTimeout bounds each /readyz check; default 2s.
	ReadyTimeout time.Duration
	// Checks reads check results for the monitoring routes (a *influxdb.Reader); when nil they
	// answer 503.
	Checks status.CheckReader
	// LastChecks reads each pair's latest check for GET /monitor from the state the workers
	// keep in Redis (a *queue.LastChecks); pairs it does not know, or all of them when it is
	// nil, are read from Checks.
	LastChecks status.LastCheckReader
	// CacheTTL is how long the answers of the series, breakdown and uptime routes are served
	// again, concurrent identical requests sharing one query (pkg/status's cache.go); 0
	// caches nothing. cmd/api sets VIGIL_API_CACHE_TTL (status.DefaultCacheTTL).
	// CacheEntries bounds the answers kept; 0 means status.DefaultCacheEntries.
	CacheTTL     time.Duration
	CacheEntries int
	// Metrics records every request by route pattern (a *metrics.API); nil records nothing.
	Metrics RequestObserver
	// RegionKeys removes a deleted region's streams, groups and markers from Redis (a
	// *queue.RegionKeys); nil removes nothing, and the scheduler's start-up sweep does.
	RegionKeys RegionKeyDropper

	// AuthFailLimit is how many failed authentications a client address may make per minute
	// before it gets 429 (ratelimit.go). 0 means no limit, for tests that fail on purpose;
	// cmd/api always sets it (VIGIL_AUTH_FAIL_LIMIT, default 10).
	AuthFailLimit int
	// AuthFailClients bounds the addresses the limiter remembers; 0 means
	// DefaultAuthFailClients.
	AuthFailClients int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed for the
	// client's address (VIGIL_TRUSTED_PROXIES). Empty means the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// MinIntervalSeconds is a floor on interval_seconds above monitor.MinIntervalSeconds
	// (VIGIL_MIN_INTERVAL_SECONDS); 0 keeps monitor's.
	MinIntervalSeconds int
	// MaxWebsites caps the websites of the install (VIGIL_MAX_WEBSITES); 0 means no cap.
	MaxWebsites int
	// Now is the clock of the rate limiter; nil means time.Now.
	Now func() time.Time
}

// RequestObserver records a served request. route is the route pattern, never the raw path,
// so that metric labels stay bounded.
type RequestObserver interface {
	ObserveRequest(method, route string, code int, took time.Duration)
}

// Server is the REST API.
type Server struct {
	echo         *echo.Echo
	log          *slog.Logger
	db           *postgres.DB
	redis        RedisPinger
	influx       InfluxPinger
	readyTimeout time.Duration
	validator    *websiteValidator
	metrics      RequestObserver
	authFails    *authFailLimiter // nil: no limit
	limits       *websiteLimits
	regionKeys   RegionKeyDropper // nil: none

	websites *postgres.WebsiteStore
	regions  *postgres.RegionStore
	keys     *postgres.APIKeyStore
	views    *status.Views // the status read model, shared with web
	web      *web.UI       // the dashboard and status pages (dashboard.go)

	// table is the route table with each route's access policy, as registered.
	table []route
}

// New builds the API and registers its routes.
func New(p Params) (*Server, error) {
	if p.DB == nil {
		return nil, errors.New("httpapi: Params.DB is required")
	}
	if p.Logger == nil {
		return nil, errors.New("httpapi: Params.Logger is required")
	}
	if p.ReadyTimeout <= 0 {
		p.ReadyTimeout = 2 * time.Second
	}
	s := &Server{
		echo:         echo.New(),
		log:          p.Logger,
		db:           p.DB,
		redis:        p.Redis,
		influx:       p.Influx,
		readyTimeout: p.ReadyTimeout,
		metrics:      p.Metrics,
		authFails:    newAuthFailLimiter(p.AuthFailLimit, p.AuthFailClients, p.Now),
		limits:       newWebsiteLimits(p.DB.Websites(), p.MinIntervalSeconds, p.MaxWebsites),
		regionKeys:   p.RegionKeys,
		validator:    newWebsiteValidator(p.CheckTarget),
		websites:     p.DB.Websites(),
		regions:      p.DB.Regions(),
		keys:         p.DB.APIKeys(),
		views:        newViews(p.DB, p),
	}
	var err error
	if s.web, err = newUI(p, s.views); err != nil {
		return nil, err
	}
	e := s.echo
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(p.TrustedProxies)
	// Outermost first: log every request with its final status, turn panics into 500s, refuse
	// clients that failed to authenticate too often, then bound the body before any handler
	// reads it.
	e.Use(s.logRequests, s.recoverPanics, s.limitAuthFailures, middleware.BodyLimit("1M"))
	if err := s.register(s.routes()); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists the registered routes (method, path with :params), for tests and docs.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// register adds the route table to echo, with the API-key check on every route that is not
// public.
func (s *Server) register(table []route) error {
	seen := map[string]bool{}
	for _, r := range table {
		key := r.method + " " + r.path
		if seen[key] {
			return fmt.Errorf("httpapi: route %s registered twice", key)
		}
		seen[key] = true
		var mw []echo.MiddlewareFunc
		switch r.access {
		case public:
			// A public path with a malformed parameter is a page that does not exist.
			mw = append(mw, checkText(http.StatusNotFound, true))
		case apiKey:
			mw = append(mw, s.requireAPIKey, checkText(http.StatusBadRequest, false))
		case session:
			mw = append(mw, s.web.RequireSession, checkText(http.StatusBadRequest, true))
		default:
			return fmt.Errorf("httpapi: route %s has no access policy", key)
		}
		s.echo.Add(r.method, r.path, r.handler, mw...)
	}
	s.table = table
	return nil
}

// logRequests logs each request once, after the error handler has written its status. It logs
// the route pattern and path, never headers (they carry API keys) or the query string.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		took := time.Since(start)
		route := c.Path()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		if s.metrics != nil {
			s.metrics.ObserveRequest(c.Request().Method, route, c.Response().Status, took)
		}
		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" {
			level = slog.LevelDebug
		}
		attrs := []any{
			"method", c.Request().Method,
			"route", route,
			"path", c.Request().URL.Path,
			"status", c.Response().Status,
			"duration_ms", took.Milliseconds(),
		}
		if id, ok := c.Get(ctxAPIKeyID).(string); ok {
			attrs = append(attrs, "api_key_id", id)
		}
		s.log.Log(c.Request().Context(), level, "http request", attrs...)
		return nil
	}
}

// recoverPanics turns a handler's panic into a logged error and a generic 500, so that a bug
// costs one request and never shows a stack trace.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("httpapi: panic", "method", c.Request().Method, "route", c.Path(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errInternal
		}()
		return next(c)
	}
}
