package flushwriter

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe to read while the timer writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLinesWaitThenArriveWithinTheInterval(t *testing.T) {
	var out syncBuffer
	w := New(&out, 20*time.Millisecond)
	defer w.Close()
	start := time.Now()
	w.Write([]byte("one\n"))
	w.Write([]byte("two\n"))
	if got := out.String(); got != "" {
		t.Fatalf("written at once: %q", got)
	}
	for out.String() != "one\ntwo\n" {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("after 5s the underlying writer has %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	// A second burst arms the timer again.
	w.Write([]byte("three\n"))
	for out.String() != "one\ntwo\nthree\n" {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("second burst never arrived: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseFlushesAndLaterWritesGoThrough(t *testing.T) {
	var out syncBuffer
	w := New(&out, time.Hour)
	w.Write([]byte("kept\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "kept\n" {
		t.Fatalf("after Close: %q", got)
	}
	w.Write([]byte("late\n"))
	if got := out.String(); got != "kept\nlate\n" {
		t.Fatalf("a write after Close waits: %q", got)
	}
}

func TestZeroIntervalWritesThrough(t *testing.T) {
	var out syncBuffer
	w := New(&out, 0)
	defer w.Close()
	w.Write([]byte("now\n"))
	if got := out.String(); got != "now\n" {
		t.Fatalf("got %q", got)
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	var out syncBuffer
	w := New(&out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 500 {
				w.Write([]byte(strings.Repeat(string(rune('a'+g)), 50) + "\n"))
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if len(l) != 50 || strings.Count(l, l[:1]) != 50 {
			t.Fatalf("torn line %q", l)
		}
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestAnUnderlyingErrorIsReported(t *testing.T) {
	w := New(failingWriter{}, time.Hour)
	w.Write([]byte("x\n"))
	if err := w.Flush(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush = %v, want the writer's error", err)
	}
	if _, err := w.Write([]byte("y\n")); !errors.Is(err, errDiskFull) {
		t.Errorf("Write after a failed flush = %v, want the error", err)
	}
	w.Close()
}
