//go:build !unix

package worker

// checkFileLimit does nothing where there is no RLIMIT_NOFILE.
func (w *Worker) checkFileLimit() {}
