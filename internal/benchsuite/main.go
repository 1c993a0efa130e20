//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/udsgate/udsgate/bench"
	"github.com/udsgate/udsgate/uds"
)

type options struct {
	udsgate, relay, socat string
	out                   string
	duration              time.Duration
	rounds                int
	bulk                  int64
	idle                  int
	write                 bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "backend" {
		if err := runBackend(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "benchsuite backend: %v\n", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var bulk string
	flag.StringVar(&o.udsgate, "udsgate", "", "the udsgate binary; without it the gate rows are skipped")
	flag.StringVar(&o.relay, "relay", "", "the reference relay binary (tools/relay); without it the relay rows are skipped")
	flag.StringVar(&o.socat, "socat", "", "the socat binary (default: socat from $PATH, if any)")
	flag.StringVar(&o.out, "out", "docs", "directory for benchmarks.md and the charts")
	flag.BoolVar(&o.write, "write", true, "write the report and charts (false: print the tables only)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per path for each round-trip and connection-rate figure")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds over all paths per figure (each path gets duration/rounds per round)")
	flag.StringVar(&bulk, "bulk", "1GiB", "bytes per path for bulk throughput, in 64 KiB writes")
	flag.IntVar(&o.idle, "idle", 10000, "idle connections for the memory figures")
	quick := flag.Bool("quick", false, "a short smoke run: 300ms per figure, 64 MiB bulk, 1000 idle connections, unless set otherwise")
	flag.Parse()
	n, err := bench.ParseSize(bulk)
	if err != nil || n == 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: benchsuite [flags]; see -help")
		os.Exit(2)
	}
	o.bulk = n
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			o.duration = 300 * time.Millisecond
		}
		if !set["bulk"] {
			o.bulk = 64 << 20
		}
		if !set["idle"] {
			o.idle = 1000
		}
	}
	if o.socat == "" {
		if p, err := exec.LookPath("socat"); err == nil {
			o.socat = p
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchsuite: %v\n", err)
		os.Exit(1)
	}
}

// suite is one run: its options, its work directory and its processes.
type suite struct {
	o         options
	dir       string
	fileLimit uint64 // RLIMIT_NOFILE of the suite and its children

	mu    sync.Mutex
	procs []*proc
}

func (s *suite) track(p *proc) *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = append(s.procs, p)
	return p
}

func (s *suite) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	s.procs = nil
}

// sock returns an address for a socket file in the work directory.
func (s *suite) sock(network, name string) string {
	return network + ":" + filepath.Join(s.dir, name)
}

func run(ctx context.Context, o options) error {
	// A short directory: socket paths must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "ugbench")
	if err != nil {
		return err
	}
	s := &suite{o: o, dir: dir}
	defer os.RemoveAll(dir)
	defer s.stopAll()

	want := uint64(2*o.idle + 1000)
	if s.fileLimit, err = raiseFileLimit(want); err != nil {
		return fmt.Errorf("raise the descriptor limit: %w", err)
	}

	cc := ""
	if o.relay != "" {
		cc, _ = exec.LookPath("cc")
	}
	rep := &report{o: o, machine: describeMachine(cc, o.socat)}
	if s.fileLimit < want {
		msg := fmt.Sprintf("The descriptor limit (RLIMIT_NOFILE) here is %d and could not be raised (that needs CAP_SYS_RESOURCE), "+
			"so a process holding %d connections through it (two descriptors each) does not fit: "+
			"the memory rows say how many connections each could hold.", s.fileLimit, o.idle)
		rep.notes = append(rep.notes, msg)
		fmt.Fprintf(os.Stderr, "benchsuite: the descriptor limit is %d, under the %d that %d idle connections need: fewer are held (run as root, or raise ulimit -Hn)\n", s.fileLimit, want, o.idle)
	}
	if o.socat == "" {
		rep.notes = append(rep.notes, "socat is not installed, so its row is missing: install it with `apt-get install socat` (Debian, Ubuntu) and run `scripts/bench.sh` again.")
		fmt.Fprintln(os.Stderr, "benchsuite: socat is not installed: its row is skipped (install it with: apt-get install socat)")
	}
	if o.relay == "" {
		rep.notes = append(rep.notes, "No C compiler (`cc`) was found, so the reference relay rows are missing.")
	}
	if o.udsgate == "" {
		rep.notes = append(rep.notes, "No udsgate binary was given, so the gate rows are missing.")
	}

	start := time.Now()
	if rep.transports, err = s.transports(ctx); err != nil {
		return err
	}
	if rep.paths, err = s.paths(ctx); err != nil {
		return err
	}
	if rep.memory, err = s.memory(ctx); err != nil {
		return err
	}
	rep.took = time.Since(start)

	fmt.Println(rep.markdownTables())
	if !o.write {
		return nil
	}
	if err := rep.write(o.out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchsuite: wrote %s in %v\n", filepath.Join(o.out, "benchmarks.md"), rep.took.Round(time.Second))
	return nil
}

// transportRow is the echo round trip over one transport.
type transportRow struct {
	name string
	res  *bench.Result
	err  error
}

// transports measures 4-byte echo round trips over each transport, against
// the Go echo backend, alternating in rounds.
func (s *suite) transports(ctx context.Context) ([]*transportRow, error) {
	fmt.Fprintln(os.Stderr, "== echo round trip per transport")
	listen := []struct{ name, addr string }{
		{"unix (stream)", s.sock(uds.Unix, "t-unix.sock")},
		{"unixpacket (seqpacket)", s.sock(uds.UnixPacket, "t-packet.sock")},
		{"unixgram (datagram)", s.sock(uds.UnixGram, "t-gram.sock")},
		{"tcp 127.0.0.1", "tcp:127.0.0.1:0"},
		{"udp 127.0.0.1", "udp:127.0.0.1:0"},
	}
	var rows []*transportRow
	var addrs []string
	for _, l := range listen {
		p, where, err := startBackend(s.dir, "echo", l.addr)
		if err != nil {
			return nil, err
		}
		s.track(p)
		rows = append(rows, &transportRow{name: l.name})
		addrs = append(addrs, where)
	}
	results := s.measure(ctx, "round trip", addrs, s.latencyConfig())
	for i, r := range results {
		rows[i].res, rows[i].err = r.res, r.err
		printRow(rows[i].name, r)
	}
	s.stopAll()
	return rows, ctx.Err()
}

func (s *suite) latencyConfig() bench.Config {
	return bench.Config{Mode: bench.Latency, Size: 4, Duration: s.o.duration, Warmup: s.warmup()}
}

func (s *suite) warmup() time.Duration { return min(s.o.duration/10, 200*time.Millisecond) }

// outcome is one address's result or error.
type outcome struct {
	res *bench.Result
	err error
}

// measure runs cfg against every address, alternating in rounds. Should one
// address fail, each is measured alone instead, so that one broken path
// costs only its own row.
func (s *suite) measure(ctx context.Context, what string, addrs []string, cfg bench.Config) []outcome {
	out := make([]outcome, len(addrs))
	if len(addrs) == 0 {
		return out
	}
	cfg.Timeout = 5 * time.Second
	rs, err := bench.Alternate(ctx, addrs, cfg, s.o.rounds)
	if err == nil {
		for i, r := range rs {
			out[i].res = r
		}
		return out
	}
	if ctx.Err() != nil {
		for i := range out {
			out[i].err = ctx.Err()
		}
		return out
	}
	fmt.Fprintf(os.Stderr, "   %s: %v; measuring each path alone\n", what, err)
	for i, a := range addrs {
		out[i].res, out[i].err = bench.Run(ctx, a, cfg)
	}
	return out
}

func printRow(name string, o outcome) {
	switch {
	case o.err != nil:
		fmt.Fprintf(os.Stderr, "   %-24s failed: %v\n", name, o.err)
	case o.res.Mode == bench.Throughput:
		fmt.Fprintf(os.Stderr, "   %-24s %8.3f GiB/s\n", name, o.res.BytesPerSec/(1<<30))
	case o.res.Mode == bench.Connect:
		fmt.Fprintf(os.Stderr, "   %-24s %8.0f conns/s  p50 %7.2f µs  p99 %7.2f µs\n", name, o.res.OpsPerSec, us(o.res.Latency.P50), us(o.res.Latency.P99))
	default:
		fmt.Fprintf(os.Stderr, "   %-24s p50 %7.2f µs  p99 %7.2f µs  %8.0f round trips/s\n", name, us(o.res.Latency.P50), us(o.res.Latency.P99), o.res.OpsPerSec)
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// pathRow is one way from the client to the backends: direct, through a
// relay, socat or the gate.
type pathRow struct {
	name, kind string // kind: direct, relay, socat, gate
	echo, sink string // addresses in front of the echo and the sink backend
	skip       string // why the row is missing, if it is

	rtt, bulk, conn1, conn8 outcome
}

// paths measures the gate, the relays and socat against the direct path.
func (s *suite) paths(ctx context.Context) ([]*pathRow, error) {
	echoP, echoAddr, err := startBackend(s.dir, "echo", s.sock(uds.Unix, "echo.sock"))
	if err != nil {
		return nil, err
	}
	s.track(echoP)
	sinkP, sinkAddr, err := startBackend(s.dir, "sink", s.sock(uds.Unix, "sink.sock"))
	if err != nil {
		return nil, err
	}
	s.track(sinkP)
	echoPath, sinkPath := filepath.Join(s.dir, "echo.sock"), filepath.Join(s.dir, "sink.sock")

	rows := []*pathRow{{name: "direct", kind: "direct", echo: echoAddr, sink: sinkAddr}}
	front := func(name, kind, skip string, argv func(listen, backend string) []string) {
		row := &pathRow{name: name, kind: kind, skip: skip}
		rows = append(rows, row)
		if skip != "" {
			return
		}
		short := map[string]string{"relay (splice)": "rs", "relay (copy)": "rc", "socat": "so", "gate": "g"}[name]
		for _, side := range []struct {
			addr    *string
			backend string
		}{{&row.echo, echoPath}, {&row.sink, sinkPath}} {
			listen := filepath.Join(s.dir, short+"-"+filepath.Base(side.backend))
			p, err := startFront(s.dir, name+" "+filepath.Base(side.backend), "unix:"+listen, argv(listen, side.backend)...)
			if err != nil {
				row.skip = err.Error()
				fmt.Fprintf(os.Stderr, "benchsuite: %s: %v\n", name, err)
				return
			}
			s.track(p)
			*side.addr = "unix:" + listen
		}
	}
	relaySkip := ""
	if s.o.relay == "" {
		relaySkip = "no C compiler to build tools/relay"
	}
	front("relay (splice)", "relay", relaySkip, func(l, b string) []string { return []string{s.o.relay, "--splice", l, b} })
	front("relay (copy)", "relay", relaySkip, func(l, b string) []string { return []string{s.o.relay, "--copy", l, b} })
	socatSkip := ""
	if s.o.socat == "" {
		socatSkip = "socat is not installed (apt-get install socat)"
	}
	front("socat", "socat", socatSkip, func(l, b string) []string {
		return []string{s.o.socat, "-b", "65536", "UNIX-LISTEN:" + l + ",fork,backlog=128", "UNIX-CONNECT:" + b}
	})
	gateSkip := ""
	if s.o.udsgate == "" {
		gateSkip = "no udsgate binary given"
	}
	front("gate", "gate", gateSkip, func(l, b string) []string { return gateArgv(s.o.udsgate, l, b) })

	var live []*pathRow
	for _, r := range rows {
		if r.skip == "" {
			live = append(live, r)
		}
	}
	addrsOf := func(sink bool) []string {
		var a []string
		for _, r := range live {
			if sink {
				a = append(a, r.sink)
			} else {
				a = append(a, r.echo)
			}
		}
		return a
	}
	figures := []struct {
		title string
		sink  bool
		cfg   bench.Config
		into  func(*pathRow) *outcome
	}{
		{"4-byte round trip", false, s.latencyConfig(), func(r *pathRow) *outcome { return &r.rtt }},
		{fmt.Sprintf("bulk, %s in 64 KiB writes into a sink", fmtBytes(s.o.bulk)), true,
			bench.Config{Mode: bench.Throughput, Size: 64 << 10, Bytes: s.o.bulk}, func(r *pathRow) *outcome { return &r.bulk }},
		{"connection rate, 1 client", false,
			bench.Config{Mode: bench.Connect, Size: 4, Conns: 1, Duration: s.o.duration, Warmup: s.warmup()}, func(r *pathRow) *outcome { return &r.conn1 }},
		{"connection rate, 8 clients", false,
			bench.Config{Mode: bench.Connect, Size: 4, Conns: 8, Duration: s.o.duration, Warmup: s.warmup()}, func(r *pathRow) *outcome { return &r.conn8 }},
	}
	for _, f := range figures {
		fmt.Fprintf(os.Stderr, "== %s\n", f.title)
		for i, o := range s.measure(ctx, f.title, addrsOf(f.sink), f.cfg) {
			*f.into(live[i]) = o
			printRow(live[i].name, o)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	s.stopAll()
	return rows, nil
}

// gateArgv is how the suite runs the gate: with its credential check,
// policy and logging on, the log going to the gate's log file.
func gateArgv(udsgate, listen, backend string) []string {
	return []string{udsgate, "serve", "--listen", "unix:" + listen, "--same-user", "--to", "unix:" + backend}
}

// memRow is the cost of idle connections held through one process.
type memRow struct {
	name                string
	conns               int
	rssBefore, rssAfter int64
	fdsBefore, fdsAfter int
	limited             string // why fewer connections than asked for were held
	skip                string
	err                 error
}

// memory opens s.o.idle connections through the gate and each relay (one
// round trip on each, so each is known to reach the backend) and reads the
// process's resident memory and descriptors before and after.
func (s *suite) memory(ctx context.Context) ([]*memRow, error) {
	fmt.Fprintf(os.Stderr, "== memory and descriptors per idle connection, at %d connections\n", s.o.idle)
	echoP, _, err := startBackend(s.dir, "echo", s.sock(uds.Unix, "m-echo.sock"))
	if err != nil {
		return nil, err
	}
	s.track(echoP)
	backend := filepath.Join(s.dir, "m-echo.sock")
	var rows []*memRow
	add := func(name, skip string, argv func(listen string) []string) {
		row := &memRow{name: name, conns: s.o.idle, skip: skip}
		rows = append(rows, row)
		if skip != "" || ctx.Err() != nil {
			return
		}
		listen := filepath.Join(s.dir, "m-front.sock")
		p, err := startFront(s.dir, "idle "+name, "unix:"+listen, argv(listen)...)
		if err != nil {
			row.err = err
			return
		}
		defer p.stop()
		row.err = holdIdle(ctx, "unix:"+listen, p.pid(), s.fileLimit, row)
		if row.err != nil {
			fmt.Fprintf(os.Stderr, "   %-24s failed: %v\n", name, row.err)
			return
		}
		fmt.Fprintf(os.Stderr, "   %-24s %6.2f KiB and %.2f descriptors per connection, at %d connections\n", name, row.kibPerConn(), row.fdsPerConn(), row.conns)
	}
	relaySkip, gateSkip := "", ""
	if s.o.relay == "" {
		relaySkip = "no C compiler"
	}
	if s.o.udsgate == "" {
		gateSkip = "no udsgate binary"
	}
	add("gate", gateSkip, func(l string) []string { return gateArgv(s.o.udsgate, l, backend) })
	add("relay (splice)", relaySkip, func(l string) []string { return []string{s.o.relay, "--splice", l, backend} })
	add("relay (copy)", relaySkip, func(l string) []string { return []string{s.o.relay, "--copy", l, backend} })
	s.stopAll()
	return rows, ctx.Err()
}

func (r *memRow) kibPerConn() float64 {
	return float64(r.rssAfter-r.rssBefore) / 1024 / float64(r.conns)
}

func (r *memRow) fdsPerConn() float64 {
	return float64(r.fdsAfter-r.fdsBefore) / float64(r.conns)
}

// settle is the pause before reading a process's memory, so that it has
// finished with the connections just made (the gate logs each one).
const settle = time.Second

// probeConns is how many connections holdIdle opens first, to warm the
// process up and to learn how many descriptors a connection costs it.
const probeConns = 100

// holdIdle opens up to row.conns connections to address, each with one
// 4-byte round trip, and records the process's memory and descriptors
// before and after. Fewer are opened if the process's descriptor limit
// (the suite's own, which it inherited) would not hold them; row.conns says
// how many. It closes them all before returning.
func holdIdle(ctx context.Context, address string, pid int, limit uint64, row *memRow) error {
	// Let the process close startFront's readiness probe first.
	time.Sleep(settle / 4)
	_, fds0, err := procStatus(pid)
	if err != nil {
		return err
	}
	// Warm up: the first connections pay for one-time setup (buffers,
	// goroutine stacks, the log's first lines) that idle ones do not. They
	// also tell what one connection costs in descriptors.
	var probe []netConn
	err = openConns(ctx, address, probeConns, &probe)
	time.Sleep(settle / 4)
	_, fds1, serr := procStatus(pid)
	for _, c := range probe {
		c.Close()
	}
	if err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	// 2% to spare: a descriptor the process held for a moment while probed
	// must not make the count too high for the limit.
	perConn := max(1, 1.02*float64(fds1-fds0)/probeConns)
	time.Sleep(settle)
	if row.rssBefore, row.fdsBefore, err = procStatus(pid); err != nil {
		return err
	}
	if fit := int(float64(int(limit)-row.fdsBefore-64) / perConn); fit < row.conns {
		row.limited = fmt.Sprintf("%.2f descriptors per connection and a limit of %d descriptors", perConn, limit)
		row.conns = fit
	}
	conns := make([]netConn, 0, row.conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err := openConns(ctx, address, row.conns, &conns); err != nil {
		return err
	}
	time.Sleep(settle)
	row.rssAfter, row.fdsAfter, err = procStatus(pid)
	return err
}

// netConn is what holdIdle keeps of a connection.
type netConn interface{ Close() error }

// openConns opens n connections, each doing one 4-byte round trip, from 8
// goroutines. It keeps them in keep, or closes them when keep is nil.
func openConns(ctx context.Context, address string, n int, keep *[]netConn) error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next int
		ferr error
	)
	for range 8 {
		wg.Go(func() {
			buf := make([]byte, 4)
			for {
				mu.Lock()
				if next >= n || ferr != nil || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				c, err := dialRetry(ctx, address)
				if err == nil {
					_, err = c.Write([]byte("ping"))
				}
				if err == nil {
					_, err = readFull(c, buf)
				}
				mu.Lock()
				if err != nil {
					if ferr == nil {
						ferr = fmt.Errorf("connection %d: %w", next, err)
					}
					if c != nil {
						c.Close()
					}
				} else if keep != nil {
					*keep = append(*keep, c)
				} else {
					c.Close()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ferr == nil {
		ferr = ctx.Err()
	}
	return ferr
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
