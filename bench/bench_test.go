package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/udsgate/udsgate/uds"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var unixNetworks = []string{uds.Unix, uds.UnixPacket, uds.UnixGram}

func within(t *testing.T, name string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %v, want within [%v, %v]", name, got, lo, hi)
	}
}

func TestHistogramPercentilesOfKnownSamples(t *testing.T) {
	tl := newTally(Latency)
	// 1µs, 2µs, ... 10000µs, shuffled into batches the way workers send them.
	var b batch
	b.rec = tl.rec
	for i := 10000; i >= 1; i-- {
		b.add(time.Duration(i) * time.Microsecond)
	}
	b.flush()
	tl.ops, tl.elapsed = 10000, time.Second
	r := tl.result("unix:/x", Config{Mode: Latency, Size: 4, Conns: 1})

	if r.Latency.Count != 10000 {
		t.Errorf("count = %d, want 10000", r.Latency.Count)
	}
	// Three significant digits: each percentile within 0.1% of the truth.
	for _, c := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"p50", r.Latency.P50, 5000 * time.Microsecond},
		{"p90", r.Latency.P90, 9000 * time.Microsecond},
		{"p99", r.Latency.P99, 9900 * time.Microsecond},
		{"p99.9", r.Latency.P999, 9990 * time.Microsecond},
		{"mean", r.Latency.Mean, 5000500 * time.Nanosecond},
	} {
		within(t, c.name, c.got, c.want-c.want/1000, c.want+c.want/1000)
	}
	if r.Latency.Max != 10*time.Millisecond {
		t.Errorf("max = %v, want exactly 10ms", r.Latency.Max)
	}
	if r.OpsPerSec != 10000 {
		t.Errorf("rate = %v, want 10000/s", r.OpsPerSec)
	}
}

func TestLatencyPercentilesOfServerWithKnownDelay(t *testing.T) {
	// Nine replies in ten come after 1ms, the tenth after 6ms: the median is
	// 1ms and the 99th percentile 6ms, plus what the machine adds.
	const fast, slow = time.Millisecond, 6 * time.Millisecond
	s := startServer(t, uds.Unix, echoServer, func(i int64) time.Duration {
		if i%10 == 9 {
			return slow
		}
		return fast
	})
	r, err := Run(context.Background(), s.addr, Config{Mode: Latency, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops < 30 {
		t.Fatalf("only %d round trips in 500ms", r.Ops)
	}
	slack := 1500 * time.Microsecond
	within(t, "p50", r.Latency.P50, fast, fast+slack)
	within(t, "p99", r.Latency.P99, slow, slow+2*slack)
	// p99.9 and max are the slowest few of a few hundred samples: whatever
	// the machine did then, they are at least the slow delay.
	if r.Latency.P999 < slow || r.Latency.Max < r.Latency.P999 {
		t.Errorf("p99.9 = %v, max = %v, want at least %v", r.Latency.P999, r.Latency.Max, slow)
	}
	within(t, "mean", r.Latency.Mean, (9*fast+slow)/10, (9*fast+slow)/10+slack)
}

func TestLatencyCountsEveryRoundTrip(t *testing.T) {
	for _, network := range unixNetworks {
		for _, conns := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", network, conns), func(t *testing.T) {
				s := startServer(t, network, echoServer, nil)
				const size = 100
				r, err := Run(context.Background(), s.addr, Config{Mode: Latency, Size: size, Conns: conns, Duration: 100 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				if r.Ops == 0 {
					t.Fatal("no round trips")
				}
				if r.Latency.Count != r.Ops {
					t.Errorf("histogram holds %d samples, want one per round trip (%d)", r.Latency.Count, r.Ops)
				}
				if got := s.bytes.Load(); got != r.Ops*size {
					t.Errorf("server got %d bytes, want %d round trips x %d", got, r.Ops, size)
				}
				if r.Bytes != r.Ops*size || r.BytesRead != r.Ops*size {
					t.Errorf("bytes %d/%d, want %d each way", r.Bytes, r.BytesRead, r.Ops*size)
				}
				if r.Elapsed < 100*time.Millisecond {
					t.Errorf("elapsed %v, shorter than the duration", r.Elapsed)
				}
				if r.Conns != conns || r.Size != size || r.Mode != Latency {
					t.Errorf("result says conns %d size %d mode %s", r.Conns, r.Size, r.Mode)
				}
			})
		}
	}
}

func TestWarmupIsNotCounted(t *testing.T) {
	s := startServer(t, uds.Unix, echoServer, nil)
	r, err := Run(context.Background(), s.addr, Config{Mode: Latency, Duration: 50 * time.Millisecond, Warmup: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if served := s.messages.Load(); served <= r.Ops {
		t.Errorf("server answered %d round trips, result counts %d: the warm-up was counted", served, r.Ops)
	}
}

func TestLargeStreamRoundTripDoesNotDeadlock(t *testing.T) {
	s := startServer(t, uds.Unix, echoServer, nil)
	r, err := Run(context.Background(), s.addr, Config{Mode: Latency, Size: 4 << 20, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || s.bytes.Load() != r.Ops*(4<<20) {
		t.Errorf("%d round trips of 4 MiB, server got %d bytes", r.Ops, s.bytes.Load())
	}
}

func TestThroughputDeliversEveryByte(t *testing.T) {
	const total = 10<<20 + 123 // not a multiple of the chunk or the connections
	for _, network := range []string{uds.Unix, uds.UnixPacket} {
		for _, kind := range []serverKind{sinkServer, echoServer} {
			t.Run(fmt.Sprintf("%s/%d", network, kind), func(t *testing.T) {
				s := startServer(t, network, kind, nil)
				r, err := Run(context.Background(), s.addr, Config{Mode: Throughput, Conns: 3, Bytes: total})
				if err != nil {
					t.Fatal(err)
				}
				// The run ends when the server has closed after the
				// half-close, so it has read everything by then.
				if r.Bytes != total || s.bytes.Load() != total {
					t.Errorf("wrote %d, server read %d, want %d", r.Bytes, s.bytes.Load(), total)
				}
				wantBack := int64(0)
				if kind == echoServer {
					wantBack = total
				}
				if r.BytesRead != wantBack {
					t.Errorf("read back %d bytes, want %d", r.BytesRead, wantBack)
				}
				if r.BytesPerSec <= 0 || r.Latency != nil {
					t.Errorf("rate %v, latency %v", r.BytesPerSec, r.Latency)
				}
				if want := int64(3 * ((total/3 + DefaultThroughputSize - 1) / DefaultThroughputSize)); r.Ops > want || r.Ops < want-3 {
					t.Errorf("%d writes, want about %d", r.Ops, want)
				}
			})
		}
	}
}

func TestThroughputForDurationOnDatagrams(t *testing.T) {
	s := startServer(t, uds.UnixGram, echoServer, nil)
	r, err := Run(context.Background(), s.addr, Config{Mode: Throughput, Size: 8192, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.Bytes != r.Ops*8192 {
		t.Fatalf("%d writes, %d bytes", r.Ops, r.Bytes)
	}
	// Datagrams still queued when the clock stopped arrive later.
	waitFor(t, "the server to get every datagram", func() bool { return s.bytes.Load() == r.Bytes })
}

func TestConnectCountsConnections(t *testing.T) {
	for _, network := range unixNetworks {
		t.Run(network, func(t *testing.T) {
			s := startServer(t, network, echoServer, nil)
			r, err := Run(context.Background(), s.addr, Config{Mode: Connect, Size: 1, Conns: 2, Duration: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Ops == 0 || r.Latency.Count != r.Ops {
				t.Fatalf("%d connections, %d samples", r.Ops, r.Latency.Count)
			}
			// Each connection did one round trip of one byte.
			if s.messages.Load() != r.Ops || r.Bytes != r.Ops {
				t.Errorf("server answered %d messages, want %d", s.messages.Load(), r.Ops)
			}
			if network != uds.UnixGram && s.accepts.Load() != r.Ops {
				t.Errorf("server accepted %d connections, want %d", s.accepts.Load(), r.Ops)
			}
		})
	}
}

func TestConnectWithoutDataOnlyConnects(t *testing.T) {
	s := startServer(t, uds.Unix, sinkServer, nil)
	r, err := Run(context.Background(), s.addr, Config{Mode: Connect, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.Bytes != 0 {
		t.Fatalf("%d connections, %d bytes", r.Ops, r.Bytes)
	}
	waitFor(t, "the server to accept every connection", func() bool { return s.accepts.Load() == r.Ops })
}

func TestSilentServerTimesOut(t *testing.T) {
	for _, mode := range []Mode{Latency, Connect, Throughput} {
		t.Run(string(mode), func(t *testing.T) {
			s := startServer(t, uds.Unix, silentServer, nil)
			cfg := Config{Mode: mode, Size: 4, Duration: time.Minute, Timeout: 100 * time.Millisecond}
			_, err := Run(context.Background(), s.addr, cfg)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
		})
	}
}

func TestThroughputWaitsForTheServerToCloseAfterHalfClose(t *testing.T) {
	s := startServer(t, uds.Unix, holdServer, nil)
	_, err := Run(context.Background(), s.addr, Config{Mode: Throughput, Bytes: 1 << 20, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "half-close") {
		t.Fatalf("err = %v, want ErrTimeout after the half-close", err)
	}
	if s.bytes.Load() != 1<<20 {
		t.Errorf("server got %d bytes, want 1 MiB", s.bytes.Load())
	}
}

func TestServerThatClosesFailsTheRun(t *testing.T) {
	s := startServer(t, uds.Unix, closeServer, nil)
	_, err := Run(context.Background(), s.addr, Config{Mode: Latency, Duration: time.Minute})
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("err = %v, want the server's close", err)
	}
}

func TestNoServerIsAnError(t *testing.T) {
	addr := "unix:" + filepath.Join(sockDir(t), "none.sock")
	_, err := Run(context.Background(), addr, Config{Mode: Latency})
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %v, want ENOENT", err)
	}
}

func TestCancelReturnsWhatWasMeasured(t *testing.T) {
	s := startServer(t, uds.Unix, echoServer, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := Run(ctx, s.addr, Config{
		Mode: Latency, Duration: time.Hour, ProgressEvery: 5 * time.Millisecond,
		Progress: func(p Progress) {
			if p.Ops > 0 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r == nil || r.Ops == 0 || r.Latency.Count != r.Ops || r.Elapsed <= 0 {
		t.Fatalf("partial result %+v", r)
	}
}

func TestProgressReportsGrowingFigures(t *testing.T) {
	s := startServer(t, uds.Unix, echoServer, nil)
	var got []Progress
	_, err := Run(context.Background(), s.addr, Config{
		Mode: Latency, Duration: 100 * time.Millisecond, ProgressEvery: 10 * time.Millisecond,
		Progress: func(p Progress) { got = append(got, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 {
		t.Fatalf("%d progress reports in 100ms at 10ms intervals", len(got))
	}
	for i, p := range got {
		if p.Address != s.addr || p.Round != 1 || p.Rounds != 1 {
			t.Errorf("report %d: %+v", i, p)
		}
		if i > 0 && (p.Elapsed < got[i-1].Elapsed || p.Ops < got[i-1].Ops) {
			t.Errorf("report %d went backwards: %+v after %+v", i, p, got[i-1])
		}
	}
	if last := got[len(got)-1]; last.Ops == 0 || last.Rate <= 0 {
		t.Errorf("last report %+v, want round trips and a rate", last)
	}
}

func TestCompareAlternatesRounds(t *testing.T) {
	var tr trace
	a := startTracedServer(t, uds.Unix, echoServer, nil, &tr)
	b := startTracedServer(t, uds.Unix, echoServer, func(int64) time.Duration { return time.Millisecond }, &tr)

	c, err := Compare(context.Background(), a.addr, b.addr, Config{Mode: Latency, Duration: 200 * time.Millisecond}, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a.addr, b.addr, a.addr, b.addr, a.addr, b.addr, a.addr, b.addr}
	if tr.String() != fmt.Sprint(want) {
		t.Fatalf("rounds ran in the order %v, want %v", tr.String(), want)
	}
	// One connection per address per round.
	if a.accepts.Load() != 4 || b.accepts.Load() != 4 {
		t.Errorf("accepts %d and %d, want 4 each", a.accepts.Load(), b.accepts.Load())
	}
	if c.A.Ops != a.messages.Load() || c.B.Ops != b.messages.Load() {
		t.Errorf("results count %d and %d round trips, servers answered %d and %d",
			c.A.Ops, c.B.Ops, a.messages.Load(), b.messages.Load())
	}
	if got, want := c.RateRatio, c.B.OpsPerSec/c.A.OpsPerSec; got != want {
		t.Errorf("rate ratio %v, want %v", got, want)
	}
	// B waits a millisecond before each reply.
	if c.RateRatio >= 1 || c.P50Ratio <= 1 || c.B.Latency.P50 < time.Millisecond {
		t.Errorf("B (1ms slower) vs A: rate ratio %.2f, p50 ratio %.2f", c.RateRatio, c.P50Ratio)
	}
	if c.A.Elapsed < 200*time.Millisecond || c.B.Elapsed < 200*time.Millisecond {
		t.Errorf("elapsed %v and %v, want the whole duration each", c.A.Elapsed, c.B.Elapsed)
	}
}

func TestCompareThroughputSplitsTheBytes(t *testing.T) {
	a := startServer(t, uds.Unix, sinkServer, nil)
	b := startServer(t, uds.Unix, sinkServer, nil)
	c, err := Compare(context.Background(), a.addr, b.addr, Config{Mode: Throughput, Bytes: 8 << 20}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.A.Bytes != 8<<20 || c.B.Bytes != 8<<20 || a.bytes.Load() != 8<<20 || b.bytes.Load() != 8<<20 {
		t.Errorf("bytes %d and %d, servers %d and %d, want 8 MiB each", c.A.Bytes, c.B.Bytes, a.bytes.Load(), b.bytes.Load())
	}
	if c.RateRatio <= 0 || c.P50Ratio != 0 {
		t.Errorf("ratios %v %v", c.RateRatio, c.P50Ratio)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		addr string
		cfg  Config
	}{
		{"no mode", "unix:/x", Config{}},
		{"unknown mode", "unix:/x", Config{Mode: "fast"}},
		{"negative size", "unix:/x", Config{Mode: Latency, Size: -1}},
		{"huge size", "unix:/x", Config{Mode: Throughput, Size: MaxSize + 1}},
		{"negative conns", "unix:/x", Config{Mode: Latency, Conns: -2}},
		{"bytes outside throughput", "unix:/x", Config{Mode: Latency, Bytes: 10}},
		{"negative duration", "unix:/x", Config{Mode: Connect, Duration: -time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Run(ctx, c.addr, c.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Run: err = %v, want ErrInvalidConfig", err)
			}
			if _, err := Compare(ctx, c.addr, c.addr, c.cfg, 2); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Compare: err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	var addrErr *uds.AddrError
	if _, err := Run(ctx, "carrier-pigeon:x", Config{Mode: Latency}); !errors.As(err, &addrErr) {
		t.Errorf("bad address: err = %v, want *uds.AddrError", err)
	}
	if _, err := Compare(ctx, "unix:/x", "unix:/y", Config{Mode: Latency, Duration: 3}, 5); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("3ns in 5 rounds: err = %v, want ErrInvalidConfig", err)
	}
	if m, err := ParseMode("throughput"); m != Throughput || err != nil {
		t.Errorf("ParseMode(throughput) = %q, %v", m, err)
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4", 4, true},
		{"0", 0, true},
		{"64KiB", 64 << 10, true},
		{"64k", 64 << 10, true},
		{"1M", 1 << 20, true},
		{"1GiB", 1 << 30, true},
		{"12B", 12, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5M", 0, false},
		{"4 KiB", 0, false},
		{"4TiB", 0, false},
		{"KiB", 0, false},
		{"99999999999G", 0, false},
	} {
		got, err := ParseSize(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", c.in, got, err, c.want)
		}
		if !c.ok && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseSize(%q) = %d, %v, want ErrInvalidConfig", c.in, got, err)
		}
	}
}

func TestAlternateVisitsEveryAddressEachRound(t *testing.T) {
	var tr trace
	servers := []*testServer{
		startTracedServer(t, uds.Unix, echoServer, nil, &tr),
		startTracedServer(t, uds.UnixPacket, echoServer, nil, &tr),
		startTracedServer(t, uds.UnixGram, echoServer, nil, &tr),
	}
	addrs := []string{servers[0].addr, servers[1].addr, servers[2].addr}
	rs, err := Alternate(context.Background(), addrs, Config{Mode: Connect, Size: 4, Duration: 90 * time.Millisecond}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(append(append(addrs[:3:3], addrs...), addrs...))
	if tr.String() != want {
		t.Errorf("ran\n%v\nwant\n%v", tr.String(), want)
	}
	for i, r := range rs {
		if r.Address != addrs[i] || r.Ops == 0 || r.Ops != servers[i].messages.Load() {
			t.Errorf("result %d: %s, %d connections; server %d answered %d", i, r.Address, r.Ops, i, servers[i].messages.Load())
		}
	}
}
