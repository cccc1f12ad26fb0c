// Command mailsink is the local mail catcher that `make run` starts: an SMTP server on
// 127.0.0.1:1025 (VIGIL_MAILSINK_ADDR) that writes every message it receives to .stack/mail
// (VIGIL_MAILSINK_DIR), so a developer can read Vigil's alert emails without a real mail server.
// It is a development tool and is not part of the container image.
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-monitor/vigil/internal/smtpsink"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mailsink:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := cmp.Or(os.Getenv("VIGIL_MAILSINK_ADDR"), "127.0.0.1:1025")
	dir := cmp.Or(os.Getenv("VIGIL_MAILSINK_DIR"), ".stack/mail")
	sink, err := smtpsink.Start(addr, dir)
	if err != nil {
		return err
	}
	fmt.Printf("mailsink: listening on %s, saving messages to %s\n", sink.Addr(), dir)
	<-ctx.Done()
	return sink.Close()
}
