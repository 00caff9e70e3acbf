// Package logbuf is the log writer of `sigbridge serve`: it batches the
// lines that a busy gateway writes (one INFO record per call at its end)
// into one write system call per interval, instead of one per line.
//
// A line written when nothing is pending and no line went out in the
// last interval is written at once, so a quiet gateway's log reads as
// before; the lines that follow within the interval wait in memory for
// at most that interval (Delay), or until the buffer holds MaxBuffer
// bytes, and go out together. Flush and Close write what is pending;
// serve closes the writer when it returns. A crash (a panic that ends
// the process, SIGKILL, out of memory) loses the lines of at most the
// last interval.
//
// Files:
//   - writer.go: Writer.
package logbuf
