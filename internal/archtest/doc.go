// Package archtest holds tests of the code's shape: which package may import which driver, and
// where SQL text and Redis commands may be written (issue 12, "one adapter per store").
package archtest
