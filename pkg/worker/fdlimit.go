//go:build unix

package worker

import (
	"fmt"
	"syscall"
)

// fdsPerCheck is how many file descriptors a running check holds: its connection to the
// target, and room for a redirect's second connection while the first closes.
const fdsPerCheck = 2

// fdReserve is what the worker needs besides its checks: Redis and InfluxDB connections, the
// metrics listener, its logs.
const fdReserve = 64

// FileLimit is the process's open-file limit after RaiseFileLimit.
type FileLimit struct {
	Before, Soft, Hard uint64
}

// RaiseFileLimit raises the soft limit on open files to the hard limit. Each running check
// holds a socket, so a worker with thousands of checks at once would otherwise fail its checks
// with EMFILE on a system whose default soft limit is 1024. (Go itself raises the limit at
// start on Linux since 1.19; doing it here as well makes the limit the worker runs with
// explicit, and works whatever started the process.)
func RaiseFileLimit() (FileLimit, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return FileLimit{}, fmt.Errorf("worker: get open-file limit: %w", err)
	}
	out := FileLimit{Before: l.Cur, Soft: l.Cur, Hard: l.Max}
	if l.Cur >= l.Max {
		return out, nil
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return out, fmt.Errorf("worker: raise open-file limit to %d: %w", l.Max, err)
	}
	out.Soft = l.Cur
	return out, nil
}

// checkFileLimit raises the open-file limit and logs it, warning when it is too low for the
// configured concurrency.
func (w *Worker) checkFileLimit() {
	l, err := RaiseFileLimit()
	if err != nil {
		w.log.Warn("cannot raise the open-file limit", "err", err)
	}
	need := uint64(w.p.Concurrency)*fdsPerCheck + fdReserve
	if l.Soft < need {
		w.log.Warn("open-file limit is below what the concurrency needs; checks may fail with too many open files",
			"open_files_limit", l.Soft, "open_files_hard_limit", l.Hard, "open_files_needed", need, "concurrency", w.p.Concurrency)
		return
	}
	w.log.Info("open-file limit", "open_files_limit", l.Soft, "open_files_limit_before", l.Before,
		"open_files_hard_limit", l.Hard, "open_files_needed", need)
}
