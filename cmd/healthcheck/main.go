// Command vigil-healthcheck is the container health check for Vigil's distroless image, which
// has no shell, curl or wget. It GETs one URL and exits 0 on a 2xx answer and 1 otherwise.
//
//	vigil-healthcheck [-timeout 3s] [URL]
//
// Without a URL it checks http://127.0.0.1:<port>/healthz, the port taken from
// VIGIL_METRICS_ADDR, which is where the scheduler, worker and notifier serve /healthz. The api
// serves /healthz on API_ADDR, so its health check passes the URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "vigil-healthcheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil-healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	var usageErr error
	fs.Usage = func() {
		var b strings.Builder
		b.WriteString("usage: vigil-healthcheck [-timeout 3s] [URL]\n" +
			"GETs URL and exits 0 on a 2xx answer, 1 otherwise.\n" +
			"Default URL: http://127.0.0.1:<port of VIGIL_METRICS_ADDR>/healthz\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
		_, usageErr = io.WriteString(stderr, b.String())
	}
	if err := fs.Parse(args); err != nil {
		return errors.Join(err, usageErr)
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return errors.Join(errors.New("at most one URL"), usageErr)
	}
	url := fs.Arg(0)
	if url == "" {
		var err error
		if url, err = defaultURL(getenv("VIGIL_METRICS_ADDR")); err != nil {
			return err
		}
	}
	return check(ctx, url, *timeout)
}

// defaultURL turns a listen address such as ":9090" or "0.0.0.0:9090" into the loopback URL
// of its /healthz.
func defaultURL(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("no URL given and VIGIL_METRICS_ADDR is empty")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("VIGIL_METRICS_ADDR %q: %w", addr, err)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz", nil
}

func check(ctx context.Context, url string, timeout time.Duration) (err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	return nil
}
