package main

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/udsgate/udsgate/bench"
)

func TestBenchProgressOnlyOnATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if l := newLiveLine(w, bench.Latency); l != nil {
		t.Error("progress line on a pipe")
	}
	if l := newLiveLine(&bytes.Buffer{}, bench.Latency); l != nil {
		t.Error("progress line on a buffer")
	}
	var nilLine *liveLine
	nilLine.clear() // no line, nothing to clear: must not panic
}

func TestBenchProgressLineIsRewrittenAndCleared(t *testing.T) {
	var out bytes.Buffer
	l := &liveLine{w: &out, mode: bench.Throughput}
	l.show(bench.Progress{Address: "unix:/a", Round: 2, Rounds: 5, Elapsed: 1500 * time.Millisecond, Rate: 3 << 30})
	l.show(bench.Progress{Address: "unix:/b", Round: 2, Rounds: 5, Elapsed: 1750 * time.Millisecond, Rate: 1 << 20})
	l.clear()
	want := "\rround 2/5 unix:/a  1.50s  3.00 GiB/s\x1b[K" +
		"\rround 2/5 unix:/b  1.75s  1.00 MiB/s\x1b[K" +
		"\r\x1b[K"
	if got := out.String(); got != want {
		t.Errorf("progress output %q, want %q", got, want)
	}
}

func TestBenchFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtCount(0), "0"},
		{fmtCount(999), "999"},
		{fmtCount(1000), "1,000"},
		{fmtCount(1234567), "1,234,567"},
		{fmtDuration(42123 * time.Nanosecond), "42.12µs"},
		{fmtDuration(420 * time.Microsecond), "420.0µs"},
		{fmtDuration(4200 * time.Microsecond), "4.20ms"},
		{fmtDuration(2 * time.Second), "2.00s"},
		{fmtBytes(512), "512 B"},
		{fmtBytes(64 << 10), "64.00 KiB"},
		{fmtBytes(1.5 * (1 << 30)), "1.50 GiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
