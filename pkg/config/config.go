// Package config reads each binary's configuration from the environment once, at start, with
// caarlos0/env. Every field carries an `env` tag, a default where one makes sense and a `help`
// tag, so that --help can list the variables a binary reads and a bad value fails fast with a
// message that names the variable.
package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/caarlos0/env/v11"
)

// Postgres is how a role reaches PostgreSQL, the source of truth. The default is the local
// stack that scripts/stack starts, as for every store below.
type Postgres struct {
	DatabaseURL string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/vigil?sslmode=disable" help:"PostgreSQL connection URL"`
}

// Redis is how a role reaches the streams and the hot state.
type Redis struct {
	RedisURL string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0" help:"Redis connection URL"`
	// RedisPrefix starts every Redis key (queue.Keys), so that several installs or test runs can
	// share one Redis.
	RedisPrefix string `env:"VIGIL_REDIS_PREFIX" envDefault:"vigil" help:"prefix of every Redis key Vigil uses"`
}

// Influx is how a role reaches the check results.
type Influx struct {
	InfluxURL    string `env:"INFLUXDB_URL" envDefault:"http://127.0.0.1:8086" help:"InfluxDB base URL"`
	InfluxToken  string `env:"INFLUXDB_TOKEN" help:"InfluxDB token (2.x), or user:password or empty (1.8)"`
	InfluxOrg    string `env:"INFLUXDB_ORG" envDefault:"vigil" help:"InfluxDB organisation (ignored by 1.8)"`
	InfluxBucket string `env:"INFLUXDB_BUCKET" envDefault:"vigil/autogen" help:"InfluxDB bucket (1.8: database/retention-policy)"`
}

// Observability is where a role serves its metrics and how it logs.
type Observability struct {
	MetricsAddr string `env:"VIGIL_METRICS_ADDR" help:"address for Prometheus /metrics (empty: off)"`
	LogFormat   string `env:"VIGIL_LOG_FORMAT" envDefault:"json" help:"log format: json or text"`
	LogLevel    string `env:"VIGIL_LOG_LEVEL" envDefault:"info" help:"log level: debug, info, warn or error"`
}

// Validate reports values that parse but make no sense.
func (o Observability) Validate() error {
	var errs []error
	if o.LogFormat != "json" && o.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("VIGIL_LOG_FORMAT: must be json or text, got %q", o.LogFormat))
	}
	switch strings.ToLower(o.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("VIGIL_LOG_LEVEL: must be debug, info, warn or error, got %q", o.LogLevel))
	}
	return errors.Join(errs...)
}

// Load fills cfg (a pointer to a struct with env tags) from the environment. If cfg has a
// Validate() error method, Load calls it, so a binary fails at start and not at first use.
func Load(cfg any) error {
	if err := env.Parse(cfg); err != nil {
		return fmt.Errorf("config: %w", nameVariables(cfg, err))
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// Usage writes the variables that cfg reads, with their defaults and help, for --help.
func Usage(w io.Writer, cfg any) error {
	params, err := env.GetFieldParams(cfg)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	help := map[string]string{}
	collectHelp(reflect.TypeOf(cfg), help)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if _, err := fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING"); err != nil {
		return fmt.Errorf("config: usage: %w", err)
	}
	for _, p := range params {
		def := p.DefaultValue
		if !p.HasDefaultValue {
			def = "-"
		}
		if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Key, def, help[p.Key]); err != nil {
			return fmt.Errorf("config: usage: %w", err)
		}
	}
	return tw.Flush()
}

func collectHelp(t reflect.Type, into map[string]string) {
	eachVariable(t, func(f reflect.StructField, key string) { into[key] = f.Tag.Get("help") })
}

// eachVariable calls fn for every field of t, nested structs included, that an environment
// variable sets, with the variable's name.
func eachVariable(t reflect.Type, fn func(f reflect.StructField, key string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if key := f.Tag.Get("env"); key != "" {
			fn(f, strings.Split(key, ",")[0])
		}
		eachVariable(f.Type, fn)
	}
}

// nameVariables rewrites the parse errors of err, which name cfg's Go fields ("parse error on
// field \"Concurrency\" of type \"int\""), to name the variables an operator sets instead
// (VIGIL_WORKER_CONCURRENCY), as every other configuration error does. The value itself is
// not repeated: a variable may hold a secret.
func nameVariables(cfg any, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	keys := map[string]string{}
	eachVariable(reflect.TypeOf(cfg), func(f reflect.StructField, key string) { keys[f.Name] = key })
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && keys[pe.Name] != "" {
			e = fmt.Errorf("%s: not a valid %s: %w", keys[pe.Name], pe.Type, pe.Err)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// validPrefixes parses a list of prefixes that Validate has already checked, so an error cannot
// happen here; it yields no prefixes rather than a partial list.
func validPrefixes(s string) []netip.Prefix {
	p, err := ParseAllowTargets(s)
	if err != nil {
		return nil
	}
	return p
}

// consumerName is the configured consumer name, or hostname-pid, which is unique per process
// and lets an operator tell from XINFO CONSUMERS which host holds a pending entry; role stands
// in for a host with no name.
func consumerName(configured, role string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = role
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}
