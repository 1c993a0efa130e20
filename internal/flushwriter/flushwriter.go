// Package flushwriter buffers writes and writes them out at most a given
// time later, so that a busy log costs one write(2) per interval instead of
// one per line, and a quiet one costs no timer at all.
//
// What a Writer promises: every byte written reaches the underlying writer
// within the interval, in order, or at Flush or Close; a buffer that fills
// up is written at once. What it cannot promise: bytes still in the buffer
// when the process is killed (SIGKILL) or crashes are lost. Use an interval
// of zero, or the underlying writer itself, where no line may ever wait.
package flushwriter

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// bufferSize is how much waits at most; a full buffer is written at once.
const bufferSize = 64 << 10

// Writer is an io.Writer that buffers, safe for concurrent use.
type Writer struct {
	every time.Duration

	mu     sync.Mutex
	buf    *bufio.Writer
	timer  *time.Timer // armed while the buffer holds bytes
	armed  bool
	closed bool
	err    error // the first error of the underlying writer, for Flush
}

// New returns a Writer that writes to w at most every later. An interval of
// zero or less writes each Write through at once.
func New(w io.Writer, every time.Duration) *Writer {
	fw := &Writer{every: every, buf: bufio.NewWriterSize(w, bufferSize)}
	fw.timer = time.AfterFunc(time.Hour, func() { fw.Flush() })
	fw.timer.Stop()
	return fw
}

// Write buffers p. It returns the error of an earlier write to the
// underlying writer, if there was one, so that a broken log is noticed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.every <= 0 {
		n, err := w.buf.Write(p)
		if err == nil {
			err = w.buf.Flush()
		}
		return n, err
	}
	n, err := w.buf.Write(p)
	if err != nil {
		w.err = err
		return n, err
	}
	if !w.armed && w.buf.Buffered() > 0 {
		w.armed = true
		w.timer.Reset(w.every)
	}
	return n, nil
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if err := w.buf.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// Close flushes and stops the timer; later writes go through at once. It
// does not close the underlying writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closed = true
	w.timer.Stop()
	w.mu.Unlock()
	return w.Flush()
}
