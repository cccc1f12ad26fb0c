// Package cli is the command-line shell that Vigil's binaries share: a root context that ends
// on SIGINT or SIGTERM, --help that lists the environment variables a binary reads, and the exit
// status. Each binary's main stays one line, and its real work lives in run(ctx) error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vigil-monitor/vigil/pkg/config"
)

// ErrUsage marks a command line that names no known command; Main exits 2 on it.
var ErrUsage = errors.New("usage")

// Run is a binary's body: it works until ctx ends, then shuts down in its documented order.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with a context that ends on SIGINT or SIGTERM, and exits: 0 after --help or a
// clean stop, 2 for a usage error, 1 for any other error, which it prints after the name.
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	code, msg := exitCode(name, err)
	if msg != "" {
		// The last word: if stderr cannot take it, the exit status still tells.
		fmt.Fprint(os.Stderr, msg)
	}
	os.Exit(code)
}

// exitCode is the exit status for err and the line to print on stderr before exiting.
func exitCode(name string, err error) (int, string) {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0, ""
	case errors.Is(err, ErrUsage):
		return 2, fmt.Sprintf("%s: %v\n", name, err)
	default:
		return 1, fmt.Sprintf("%s: %v\n", name, err)
	}
}

// Parse parses args with fs, whose flags the caller has defined. On -h or --help it prints
// head, the flags if there are any, and the environment variables cfg reads (config.Usage), and
// returns flag.ErrHelp. Help that cannot be printed is an error instead.
func Parse(fs *flag.FlagSet, head string, cfg any, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	var usageErr error
	fs.Usage = func() { usageErr = Usage(fs, head, cfg, stdout, stderr) }
	err := fs.Parse(args)
	if usageErr != nil {
		if errors.Is(err, flag.ErrHelp) {
			err = nil
		}
		return errors.Join(err, fmt.Errorf("print usage: %w", usageErr))
	}
	return err
}

// Setup is the start of every binary with no subcommands: Parse, a refusal of stray
// arguments, then config.Load.
func Setup(fs *flag.FlagSet, head string, cfg any, args []string, stdout, stderr io.Writer) error {
	if err := Parse(fs, head, cfg, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q (see --help)", ErrUsage, fs.Args())
	}
	return config.Load(cfg)
}

// Usage prints what Parse prints on --help to stdout; stderr is where fs writes otherwise.
func Usage(fs *flag.FlagSet, head string, cfg any, stdout, stderr io.Writer) error {
	var b strings.Builder
	b.WriteString(head + "\n")
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	b.WriteString("\nEnvironment:\n")
	if err := config.Usage(&b, cfg); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, b.String())
	return err
}
