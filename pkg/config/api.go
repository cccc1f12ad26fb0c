package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// API is the configuration of cmd/api.
type API struct {
	Postgres
	Redis
	Influx
	Observability
	Addr string `env:"API_ADDR" envDefault:":3002" help:"address the REST API listens on"`
	// APIKey, when set, is stored at start as a key named "env", so that a local run has a
	// working key without running `api keys create`. It is never logged.
	APIKey string `env:"VIGIL_API_KEY" help:"an API key to accept, seeded at start (local runs)"`
	// AllowTargets opens ranges of the SSRF guard for websites and webhooks that really live
	// on private or loopback addresses.
	AllowTargets    string        `env:"VIGIL_ALLOW_TARGETS" help:"comma-separated CIDRs or addresses that checks may reach although private (e.g. 10.0.0.0/8,127.0.0.1)"`
	ShutdownTimeout time.Duration `env:"VIGIL_SHUTDOWN_TIMEOUT" envDefault:"15s" help:"how long to finish in-flight requests at shutdown"`
	// AuthFailLimit slows down anyone guessing API keys: past it a client address gets 429.
	AuthFailLimit int `env:"VIGIL_AUTH_FAIL_LIMIT" envDefault:"10" help:"failed authentications per minute per client address before 429"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client; without
	// them the TCP peer is the client, which is what the limiter counts.
	TrustedProxies string `env:"VIGIL_TRUSTED_PROXIES" help:"comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed"`
	// MinIntervalSeconds and MaxWebsites bound how much checking a key holder can ask for.
	MinIntervalSeconds int `env:"VIGIL_MIN_INTERVAL_SECONDS" envDefault:"10" help:"shortest check interval a website may be given (10..86400; raise it to stop key holders from checking too often)"`
	MaxWebsites        int `env:"VIGIL_MAX_WEBSITES" envDefault:"10000" help:"most websites the install may hold (0: no cap)"`
	// CacheTTL is how long the series, breakdown and uptime answers are served again; requests
	// for the same answer meanwhile share one InfluxDB query.
	CacheTTL time.Duration `env:"VIGIL_API_CACHE_TTL" envDefault:"15s" help:"how long series, breakdown and uptime answers are kept (0s: no cache)"`
}

// Validate reports values that parse but make no sense, naming the variable.
func (a API) Validate() error {
	errs := []error{a.Observability.Validate()}
	if a.Addr == "" {
		errs = append(errs, errors.New("API_ADDR: must not be empty"))
	}
	if _, err := ParseAllowTargets(a.AllowTargets); err != nil {
		errs = append(errs, fmt.Errorf("VIGIL_ALLOW_TARGETS: %w", err))
	}
	if a.AuthFailLimit < 1 {
		errs = append(errs, fmt.Errorf("VIGIL_AUTH_FAIL_LIMIT: must be at least 1, got %d", a.AuthFailLimit))
	}
	if _, err := ParseAllowTargets(a.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("VIGIL_TRUSTED_PROXIES: %w", err))
	}
	if a.MinIntervalSeconds < 10 || a.MinIntervalSeconds > 86400 {
		errs = append(errs, fmt.Errorf("VIGIL_MIN_INTERVAL_SECONDS: must be between 10 and 86400, got %d", a.MinIntervalSeconds))
	}
	if a.MaxWebsites < 0 {
		errs = append(errs, fmt.Errorf("VIGIL_MAX_WEBSITES: must be 0 (no cap) or more, got %d", a.MaxWebsites))
	}
	if a.CacheTTL < 0 || a.CacheTTL > time.Hour {
		errs = append(errs, fmt.Errorf("VIGIL_API_CACHE_TTL: must be between 0s and 1h, got %s", a.CacheTTL))
	}
	if a.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("VIGIL_SHUTDOWN_TIMEOUT: must be positive, got %s", a.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// AllowTargetPrefixes returns VIGIL_ALLOW_TARGETS parsed; Validate has already refused a bad
// value.
func (a API) AllowTargetPrefixes() []netip.Prefix { return validPrefixes(a.AllowTargets) }

// TrustedProxyPrefixes returns VIGIL_TRUSTED_PROXIES parsed; Validate has already refused a
// bad value.
func (a API) TrustedProxyPrefixes() []netip.Prefix { return validPrefixes(a.TrustedProxies) }

// ParseAllowTargets parses a comma-separated list of CIDR prefixes or bare addresses
// ("127.0.0.0/8, 10.1.2.3, fd12::/16"), ignoring empty entries.
func ParseAllowTargets(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, "/") {
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("entry %q is not a CIDR prefix", part)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("entry %q is neither a CIDR prefix nor an address", part)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
