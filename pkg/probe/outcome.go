package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// The machine-readable reasons of a Result. They are stable: the API, the emails and the
// InfluxDB "error" field carry them.
const (
	ReasonStatus    = "status"    // the status code is not expected
	ReasonKeyword   = "keyword"   // the keyword is not in the body
	ReasonSlow      = "slow"      // degraded: slower than the slow threshold
	ReasonRefused   = "refused"   // connection refused
	ReasonReset     = "reset"     // connection reset or closed before a response
	ReasonDNS       = "dns"       // the name does not resolve
	ReasonTLS       = "tls"       // handshake or certificate failure
	ReasonRedirects = "redirects" // too many redirects, or a redirect to no valid target
	ReasonProtocol  = "protocol"  // a malformed or oversized response
	ReasonBody      = "body"      // the body could not be read
	ReasonNetwork   = "network"   // host or network unreachable, and other dial failures
	ReasonTimeout   = "timeout"   // the check's deadline passed
	ReasonSSRF      = "ssrf"      // the guard refused the target
	ReasonInvalid   = "invalid"   // the job itself is malformed (URL, method, headers, expected_status)
	ReasonCanceled  = "canceled"  // the caller's context ended; discard the result
	ReasonWorker    = "worker"    // the worker's own fault (out of descriptors or buffers); discard the result
	ReasonInternal  = "internal"  // a bug in the probe; never expected
)

const maxMessage = 200

// classify turns a failed exchange into its outcome. parent is the caller's context, pctx the
// check's own (with the deadline), so that a worker shutting down is not taken for a timeout.
func classify(parent, pctx context.Context, res monitor.Result, err error, host, stage string) monitor.Result {
	set := func(o monitor.Outcome, reason, msg string) monitor.Result {
		res.Outcome, res.Reason, res.Message = o, reason, truncate(msg)
		return res
	}
	var (
		dnsErr *net.DNSError
		urlErr *url.Error
	)
	switch {
	case errors.Is(err, ErrBlocked):
		return set(monitor.OutcomeBlocked, ReasonSSRF, blockedMessage(err))
	case errors.Is(err, errTooManyRedirects):
		return set(monitor.OutcomeDown, ReasonRedirects, fmt.Sprintf("more than %d redirects", monitor.MaxRedirects))
	case errors.Is(err, ErrInvalidURL):
		return set(monitor.OutcomeDown, ReasonRedirects, "redirected to an invalid target: "+innerMessage(err))
	case parent.Err() != nil:
		return set(monitor.OutcomeDown, ReasonCanceled, "check canceled")
	case isWorkerFault(err):
		return set(monitor.OutcomeDown, ReasonWorker, "the worker could not run the check: "+innerMessage(err))
	case errors.Is(pctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return set(monitor.OutcomeTimeout, ReasonTimeout, timeoutMessage(res, stage))
	case errors.As(err, &dnsErr):
		return set(monitor.OutcomeDown, ReasonDNS, "cannot resolve "+dnsErr.Name+": "+dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return set(monitor.OutcomeDown, ReasonRefused, "connection refused by "+host)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return set(monitor.OutcomeDown, ReasonReset, "connection closed by "+host+" before a complete response")
	case isTLS(err):
		return set(monitor.OutcomeDown, ReasonTLS, "tls: "+strings.TrimPrefix(innerMessage(err), "tls: "))
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return set(monitor.OutcomeDown, ReasonNetwork, innerMessage(err))
	case errors.As(err, &urlErr) && strings.Contains(urlErr.Err.Error(), "unsupported protocol scheme"):
		return set(monitor.OutcomeDown, ReasonRedirects, "redirected to an unsupported scheme")
	default:
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return set(monitor.OutcomeDown, ReasonNetwork, innerMessage(err))
		}
		return set(monitor.OutcomeDown, ReasonProtocol, innerMessage(err))
	}
}

// classifyBody turns a failed body read (while looking for the keyword) into its outcome.
func classifyBody(parent, pctx context.Context, res monitor.Result, err error, stage string) monitor.Result {
	switch {
	case parent.Err() != nil:
		res.Outcome, res.Reason, res.Message = monitor.OutcomeDown, ReasonCanceled, "check canceled"
	case errors.Is(pctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		res.Outcome, res.Reason, res.Message = monitor.OutcomeTimeout, ReasonTimeout, timeoutMessage(res, stage)
	default:
		res.Outcome, res.Reason = monitor.OutcomeDown, ReasonBody
		res.Message = truncate("reading the body: " + innerMessage(err))
	}
	return res
}

func timeoutMessage(res monitor.Result, stage string) string {
	return fmt.Sprintf("timed out after %d ms waiting for %s", res.Phases.Total.Milliseconds(), stage)
}

// isWorkerFault reports whether err is the worker's own resource shortage rather than
// anything the target did: a process or system out of file descriptors (EMFILE, ENFILE) or of
// socket buffers and memory (ENOBUFS, ENOMEM). Reported as a verdict, a worker that ran out of
// descriptors (for example because hostile targets held its sockets) would declare healthy
// sites down.
func isWorkerFault(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTLS(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		rerr  tls.RecordHeaderError
		aerr  tls.AlertError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cerr  x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &rerr) || errors.As(err, &aerr) ||
		errors.As(err, &uaerr) || errors.As(err, &herr) || errors.As(err, &cerr) ||
		strings.Contains(err.Error(), "tls: ")
}

// innerMessage is err's text without the *url.Error wrapper, whose text carries the request
// URL (and with it any query token or user name).
func innerMessage(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return strings.TrimPrefix(err.Error(), "probe: ")
}

// blockedMessage names the refused address and its range, from the guard's own error.
func blockedMessage(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s := e.Error(); strings.HasPrefix(s, "probe: ") {
			s = strings.TrimPrefix(s, "probe: ")
			s = strings.TrimSuffix(s, ": "+ErrBlocked.Error())
			return truncate("refused by the SSRF guard: " + s)
		}
	}
	return "refused by the SSRF guard"
}

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxMessage], "") + "…"
}
