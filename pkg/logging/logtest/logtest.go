// Package logtest holds what tests need to read the logs of code that logs from several
// goroutines.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that a logger's goroutines and a test can share: the test reads
// String while the code under test is still writing.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
