// Package smtpsink is a real SMTP server (emersion/go-smtp) that keeps what it receives. Tests
// use it to hold a true SMTP conversation with the notifier, including outages (Stop, then
// Restart on the same port) and temporary failures; `make run` uses it as the local mail
// catcher, writing each message to a folder.
package smtpsink

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	At   time.Time
}

// Sink is a running SMTP server. Its zero value is not usable; call Start.
type Sink struct {
	addr string
	dir  string

	mu       sync.Mutex
	srv      *smtp.Server
	msgs     []Message
	received chan struct{}
	failing  atomic.Bool
}

// Start listens on addr ("127.0.0.1:0" picks a free port). If dir is not empty, each message is
// also written there as an .eml file.
func Start(addr, dir string) (*Sink, error) {
	s := &Sink{dir: dir, received: make(chan struct{}, 1)}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("smtpsink: %w", err)
		}
	}
	if err := s.listen(addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("smtpsink: listen: %w", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{sink: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	s.mu.Lock()
	s.srv, s.addr = srv, ln.Addr().String()
	s.mu.Unlock()
	go func() {
		// Serve returns when the listener closes, which is how Stop ends it.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(os.Stderr, "smtpsink: serve: %v\n", err)
		}
	}()
	return nil
}

// Addr is the host:port the sink listens on.
func (s *Sink) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Port is the port the sink listens on.
func (s *Sink) Port() int { return s.tcpAddr().Port }

func (s *Sink) tcpAddr() *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s.Addr())
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}

// Stop closes the server: new connections are refused, as in an outage.
func (s *Sink) Stop() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Restart listens again on the same address after Stop.
func (s *Sink) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.listen(s.Addr())
}

// Close stops the sink for good.
func (s *Sink) Close() error { return s.Stop() }

// SetFailing makes the sink answer every MAIL FROM with a temporary 451 error while on is true.
func (s *Sink) SetFailing(on bool) { s.failing.Store(on) }

// Messages returns a copy of what the sink has accepted so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Received is signalled (without blocking) after each accepted message, so tests can wait for
// mail instead of sleeping.
func (s *Sink) Received() <-chan struct{} { return s.received }

func (s *Sink) keep(m Message) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	n := len(s.msgs)
	s.mu.Unlock()
	select {
	case s.received <- struct{}{}:
	default:
	}
	if s.dir == "" {
		return nil
	}
	name := filepath.Join(s.dir, fmt.Sprintf("%s-%04d.eml", m.At.UTC().Format("20060102T150405"), n))
	if err := os.WriteFile(name, m.Data, 0o644); err != nil {
		return fmt.Errorf("smtpsink: write %s: %w", name, err)
	}
	fmt.Printf("smtpsink: message from %s to %v saved as %s\n", m.From, m.To, name)
	return nil
}

type session struct {
	sink *Sink
	from string
	to   []string
}

var errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}

// AuthMechanisms accepts PLAIN with any credentials, so clients configured with SMTP_USER and
// SMTP_PASS can talk to the sink.
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.sink.failing.Load() {
		return errTemporary
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.sink.keep(Message{From: s.from, To: append([]string(nil), s.to...), Data: data, At: time.Now()})
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
