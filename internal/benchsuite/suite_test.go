//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/udsgate/udsgate/bench"
	"github.com/udsgate/udsgate/uds"
)

// TestMain lets the test binary serve as the suite's backend process, as
// the suite binary does ("backend echo|sink ADDRESS").
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "backend" {
		if err := runBackend(os.Args[2:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ugs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func backend(t *testing.T, dir, kind, address string) (*proc, string) {
	t.Helper()
	p, where, err := startBackend(dir, kind, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p, where
}

func TestBackendsEchoAndSinkAndCleanUp(t *testing.T) {
	dir := shortDir(t)
	ctx := context.Background()
	for _, network := range []string{uds.Unix, uds.UnixPacket, uds.UnixGram, uds.TCP, uds.UDP} {
		addr := network + ":" + filepath.Join(dir, network+".sock")
		if network == uds.TCP || network == uds.UDP {
			addr = network + ":127.0.0.1:0"
		}
		p, where := backend(t, dir, "echo", addr)
		r, err := bench.Run(ctx, where, bench.Config{Mode: bench.Latency, Duration: 50 * time.Millisecond})
		if err != nil || r.Ops == 0 {
			t.Fatalf("%s echo: %v, %+v", network, err, r)
		}
		p.stop()
		if a := uds.MustParseAddr(where); a.Path() != "" {
			if _, err := os.Lstat(a.Path()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: socket file left behind after SIGTERM: %v", network, err)
			}
		}
	}
	_, sink := backend(t, dir, "sink", "unix:"+filepath.Join(dir, "sink.sock"))
	r, err := bench.Run(ctx, sink, bench.Config{Mode: bench.Throughput, Bytes: 32 << 20, Conns: 2})
	if err != nil || r.Bytes != 32<<20 || r.BytesRead != 0 {
		t.Fatalf("sink: %v, %+v", err, r)
	}
}

// buildRelay compiles tools/relay/relay.c, warnings as errors, or skips
// the test without a C compiler.
func buildRelay(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc): the reference relay cannot be built")
	}
	bin := filepath.Join(t.TempDir(), "relay")
	out, err := exec.Command(cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", bin, "../../tools/relay/relay.c").CombinedOutput()
	if err != nil {
		t.Fatalf("cc relay.c: %v\n%s", err, out)
	}
	return bin
}

func TestRelayRelaysBothWaysWithHalfClose(t *testing.T) {
	relay := buildRelay(t)
	dir := shortDir(t)
	_, echoAddr := backend(t, dir, "echo", "unix:"+filepath.Join(dir, "echo.sock"))
	_, sinkAddr := backend(t, dir, "sink", "unix:"+filepath.Join(dir, "sink.sock"))
	for _, mode := range []string{"--splice", "--copy"} {
		t.Run(mode, func(t *testing.T) {
			front := func(name, backend string) string {
				listen := filepath.Join(dir, mode[2:]+"-"+name)
				p, err := startFront(dir, "relay "+mode+" "+name, "unix:"+listen, relay, mode, listen, uds.MustParseAddr(backend).Path())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(p.stop)
				return "unix:" + listen
			}
			viaEcho, viaSink := front("echo", echoAddr), front("sink", sinkAddr)

			// Half-close: everything sent comes back after the client's
			// EOF, then the relay passes the echo's EOF on.
			c, err := uds.Dial(context.Background(), viaEcho)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sent := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			go func() {
				c.Write(sent)
				c.(*net.UnixConn).CloseWrite()
			}()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, sent) {
				t.Fatalf("echo through the relay: %d of %d bytes back, err %v", len(got), len(sent), err)
			}

			// Bulk into the sink: every byte taken, and the sink's close
			// comes back through the relay.
			r, err := bench.Run(context.Background(), viaSink, bench.Config{Mode: bench.Throughput, Bytes: 64 << 20, Timeout: 10 * time.Second})
			if err != nil || r.Bytes != 64<<20 {
				t.Fatalf("bulk through the relay: %v, %+v", err, r)
			}
			r, err = bench.Run(context.Background(), viaEcho, bench.Config{Mode: bench.Connect, Size: 4, Conns: 4, Duration: 100 * time.Millisecond})
			if err != nil || r.Ops == 0 {
				t.Fatalf("connections through the relay: %v, %+v", err, r)
			}
		})
	}
}

func TestRelayClosesClientsWhenTheBackendIsMissing(t *testing.T) {
	relay := buildRelay(t)
	dir := shortDir(t)
	listen := filepath.Join(dir, "r.sock")
	p, err := startFront(dir, "relay", "unix:"+listen, relay, listen, filepath.Join(dir, "none.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	c, err := uds.Dial(context.Background(), "unix:"+listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read = %d, %v; want EOF", n, err)
	}
}

func TestRelayListenPathRules(t *testing.T) {
	relay := buildRelay(t)
	dir := shortDir(t)
	backendPath := filepath.Join(dir, "b.sock")

	// A stale socket (nobody listening) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: stale}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	p, err := startFront(dir, "relay stale", "unix:"+stale, relay, stale, backendPath)
	if err != nil {
		t.Fatalf("relay over a stale socket: %v", err)
	}

	// A live one is not taken over, and neither is a regular file.
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{stale, regular} {
		out, err := exec.Command(relay, path, backendPath).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("relay on %s: %v (%s), want exit status 1", path, err, out)
		}
	}
	if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me" {
		t.Errorf("regular file changed: %q, %v", b, err)
	}

	// SIGTERM: exit 0 and the socket file is gone.
	p.stop()
	if p.err != nil {
		t.Errorf("relay exit after SIGTERM: %v", p.err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after SIGTERM: %v", err)
	}
}

func TestChartIsAPNG(t *testing.T) {
	dir := shortDir(t)
	_, addr := backend(t, dir, "echo", "unix:"+filepath.Join(dir, "e.sock"))
	r, err := bench.Run(context.Background(), addr, bench.Config{Mode: bench.Latency, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(t.TempDir(), "c.png")
	if err := latencyChart(png, "test", []chartSeries{{"unix", r}, {"again", r}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("chart: %v, %d bytes", err, len(b))
	}
}

func TestTargetsSayWhetherTheyAreMet(t *testing.T) {
	lat := func(p50 time.Duration, rate float64) outcome {
		return outcome{res: &bench.Result{Mode: bench.Latency, OpsPerSec: rate, Latency: &bench.Distribution{P50: p50, P99: 2 * p50}}}
	}
	bulk := func(gib float64) outcome {
		return outcome{res: &bench.Result{Mode: bench.Throughput, BytesPerSec: gib * (1 << 30)}}
	}
	conn := func(rate float64) outcome {
		return outcome{res: &bench.Result{Mode: bench.Connect, OpsPerSec: rate, Latency: &bench.Distribution{P50: time.Millisecond}}}
	}
	r := &report{
		o: options{idle: 10000, rounds: 3, duration: 3 * time.Second, bulk: 1 << 30},
		paths: []*pathRow{
			{name: "direct", kind: "direct", rtt: lat(40*time.Microsecond, 25000), bulk: bulk(5), conn1: conn(10000), conn8: conn(30000)},
			{name: "relay (splice)", kind: "relay", rtt: lat(70*time.Microsecond, 14000), bulk: bulk(4), conn1: conn(6400), conn8: conn(13000)},
			{name: "relay (copy)", kind: "relay", rtt: lat(69*time.Microsecond, 14100), bulk: bulk(2.4), conn1: conn(6600), conn8: conn(15000)},
			{name: "socat", kind: "socat", skip: "socat is not installed (apt-get install socat)"},
			// Bulk 0.899 of splice: just short. RTT 75.9/69 = 1.1: met.
			{name: "gate", kind: "gate", rtt: lat(75900*time.Nanosecond, 13000), bulk: bulk(3.596), conn1: conn(6000), conn8: conn(13400)},
		},
		memory: []*memRow{{name: "gate", conns: 10000, rssBefore: 8 << 20, rssAfter: 8<<20 + 10000*11<<10, fdsBefore: 20, fdsAfter: 20020}},
	}
	md := r.markdownTables()
	for _, want := range []string{
		"| bulk throughput ≥ 0.9 × the splice relay | 3.596 GiB/s | 4.000 GiB/s (relay (splice)) | 0.899× | ≥ 0.9× | **no** |",
		"| round trip (p50) ≤ 1.1 × the best relay | 75.90 µs | 69.00 µs (relay (copy)) | 1.100× | ≤ 1.1× | yes |",
		"| connection rate, 1 client ≥ 0.9 × the best relay | 6000/s | 6600/s (relay (copy)) | 0.909× | ≥ 0.9× | yes |",
		"| connection rate, 8 clients ≥ 0.9 × the best relay | 13400/s | 15000/s (relay (copy)) | 0.893× | ≥ 0.9× | **no** |",
		"| bulk throughput better than socat | 3.596 GiB/s | - | - | > 1× | - |",
		"| resident memory per idle connection at 10000 connections | 11.00 KiB | - | - | ≤ 10 KiB | **no** |",
		"| descriptors per idle connection at 10000 connections | 2.00 | - | - | ≤ 2 | yes |",
		"| relay (splice) | 70.00 (1.75×) |",
		"| gate | 75.90 (1.10×) |",
		"| socat | skipped: socat is not installed (apt-get install socat) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}
