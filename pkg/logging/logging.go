// Package logging builds the slog logger every binary uses: JSON in production, text for a
// person at a terminal, with stable snake_case keys chosen by the callers.
package logging

import (
	"io"
	"log/slog"
	"strings"

	"github.com/vigil-monitor/vigil/pkg/config"
)

// New returns a logger for the role, writing to w in the configured format and level.
func New(w io.Writer, role string, o config.Observability) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(o.LogLevel))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if o.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h).With("role", role)
}

// Close calls close, which ends something that was only read (a response body after its
// answer was judged), and logs a failure at debug level as "close <what>" with args. Such a
// failure changes no result, so there is no error to return, but an operator chasing leaked
// connections can see it. log may be nil.
func Close(log *slog.Logger, what string, close func() error, args ...any) {
	if err := close(); err != nil && log != nil {
		log.Debug("close "+what, append(args[:len(args):len(args)], "err", err)...)
	}
}
