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
	Stores
	Observability
	Addr string `env:"API_ADDR" envDefault:":3002" help:"address the REST API listens on"`
	// APIKey, when set, is stored at start as a key named "env", so that a local run has a
	// working key without running `api keys create`. It is never logged.
	APIKey string `env:"VIGIL_API_KEY" help:"an API key to accept, seeded at start (local runs)"`
	// AllowTargets opens ranges of the SSRF guard for websites and webhooks that really live
	// on private or loopback addresses.
	AllowTargets    string        `env:"VIGIL_ALLOW_TARGETS" help:"comma-separated CIDRs or addresses that checks may reach although private (e.g. 10.0.0.0/8,127.0.0.1)"`
	ShutdownTimeout time.Duration `env:"VIGIL_SHUTDOWN_TIMEOUT" envDefault:"15s" help:"how long to finish in-flight requests at shutdown"`
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
	if a.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("VIGIL_SHUTDOWN_TIMEOUT: must be positive, got %s", a.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// AllowTargetPrefixes returns VIGIL_ALLOW_TARGETS parsed; Validate has already refused a bad
// value.
func (a API) AllowTargetPrefixes() []netip.Prefix {
	p, err := ParseAllowTargets(a.AllowTargets)
	if err != nil {
		return nil
	}
	return p
}

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
