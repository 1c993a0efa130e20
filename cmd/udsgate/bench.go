package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/udsgate/udsgate/bench"
)

type benchFlags struct {
	mode, size, bytes string
	conns, rounds     int
	duration, warmup  time.Duration
	json              bool
	compare           string
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--mode latency|throughput|connect] [--size N] [--conns N] [--duration D] [--json] [--compare ADDRESS2] ADDRESS",
		Short: "Measure a server's round-trip time, throughput or connection rate",
		Long: `bench measures the server at ADDRESS (any address udsgate dials) from the
client side, and prints the figures.

  --mode latency     round trips of --size bytes (default 4) on --conns
                     connections: round trips per second and the latency
                     distribution (p50, p90, p99, p99.9, max) from an HDR
                     histogram. The server must echo. A stream reads until
                     --size bytes came back; unixpacket, unixgram and udp send
                     one message and read one.
  --mode throughput  writes of --size bytes (default 64KiB) one way on --conns
                     connections, for --duration or until --bytes are written:
                     bytes per second. The server may be a sink or an echo;
                     what an echo sends back is read and dropped at the same
                     time. On streams the client half-closes at the end and
                     the clock stops when the server closes, so every byte
                     counted was taken by the server.
  --mode connect     connect, one round trip of --size bytes (default 0: none),
                     close, as fast as possible on --conns parallel loops:
                     connections per second and the time of one connection.
                     A connect refused because the server's backlog is full
                     is retried after 1ms, and the retries are counted.

--compare ADDRESS2 measures ADDRESS2 the same way, alternating the two
addresses in --rounds rounds of --duration/--rounds each, so that noise on the
machine hits both alike, and prints both and the ratio ADDRESS2/ADDRESS.

On a terminal a progress line on stderr shows the elapsed time and the rate so
far. --json prints the result (or the comparison) as JSON, durations in
nanoseconds. SIGINT stops early: the figures so far are printed and bench
exits 1.`,
		Example: `  udsgate bench /tmp/echo.sock
  udsgate bench --mode throughput --duration 10s unix:/run/app.sock
  udsgate bench --mode connect --conns 8 --size 4 /tmp/gate.sock
  udsgate bench --compare /tmp/gate.sock /tmp/echo.sock`,
		Args: exitArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return usageError{err}
			}
			return runBench(cmd, args[0], f, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", "latency", "what to measure: latency, throughput or connect")
	fl.StringVar(&f.size, "size", "", "bytes per message, write or per-connection round trip (default 4, 64KiB, 0 by mode)")
	fl.IntVar(&f.conns, "conns", 1, "connections (latency, throughput) or parallel connect loops")
	fl.DurationVar(&f.duration, "duration", bench.DefaultDuration, "how long to measure (each address, with --compare)")
	fl.StringVar(&f.bytes, "bytes", "", "throughput: write this many bytes (e.g. 1GiB) instead of running for --duration")
	fl.DurationVar(&f.warmup, "warmup", 0, "latency, connect: time spent before the clock starts, not counted")
	fl.BoolVar(&f.json, "json", false, "print the figures as JSON")
	fl.StringVar(&f.compare, "compare", "", "also measure `ADDRESS2`, alternating in rounds, and print the ratio")
	fl.IntVar(&f.rounds, "rounds", bench.DefaultRounds, "with --compare: rounds per address")
	return cmd
}

// config turns the flags into a bench.Config; its errors are usage errors.
func (f benchFlags) config() (bench.Config, error) {
	mode, err := bench.ParseMode(f.mode)
	if err != nil {
		return bench.Config{}, fmt.Errorf("--mode: %w", err)
	}
	cfg := bench.Config{Mode: mode, Conns: f.conns, Duration: f.duration, Warmup: f.warmup}
	if f.size != "" {
		n, err := bench.ParseSize(f.size)
		if err != nil {
			return cfg, fmt.Errorf("--size: %w", err)
		}
		if n == 0 && mode != bench.Connect {
			return cfg, fmt.Errorf("--size 0: a %s run needs at least one byte", mode)
		}
		if n > bench.MaxSize {
			return cfg, fmt.Errorf("--size %s: over the maximum of %d bytes", f.size, bench.MaxSize)
		}
		cfg.Size = int(n)
	}
	if f.bytes != "" {
		if mode != bench.Throughput {
			return cfg, errors.New("--bytes is for --mode throughput")
		}
		n, err := bench.ParseSize(f.bytes)
		if err != nil || n == 0 {
			return cfg, fmt.Errorf("--bytes %q: want a byte count such as 1GiB", f.bytes)
		}
		cfg.Bytes = n
	}
	switch {
	case f.conns < 1:
		return cfg, fmt.Errorf("--conns %d: want at least 1", f.conns)
	case f.duration <= 0:
		return cfg, fmt.Errorf("--duration %v: want a positive duration", f.duration)
	case f.warmup < 0:
		return cfg, fmt.Errorf("--warmup %v: want zero or more", f.warmup)
	case f.rounds < 1:
		return cfg, fmt.Errorf("--rounds %d: want at least 1", f.rounds)
	}
	return cfg, nil
}

func runBench(cmd *cobra.Command, address string, f benchFlags, cfg bench.Config) error {
	ctx := cmd.Context()
	live := newLiveLine(cmd.ErrOrStderr(), cfg.Mode)
	if live != nil {
		cfg.Progress = live.show
	}
	var (
		res *bench.Result
		cmp *bench.Comparison
		err error
	)
	if f.compare != "" {
		cmp, err = bench.Compare(ctx, address, f.compare, cfg, f.rounds)
	} else {
		res, err = bench.Run(ctx, address, cfg)
	}
	live.clear()

	interrupted := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	if err != nil && !interrupted {
		if errors.Is(err, bench.ErrInvalidConfig) {
			return usageError{err}
		}
		return err
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		var v any = res
		if cmp != nil {
			v = cmp
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else if cmp != nil {
		printComparison(out, cmp)
	} else {
		printResult(out, res)
	}
	if interrupted {
		return errors.New("interrupted: the figures cover the time measured until then")
	}
	return nil
}

// liveLine is the progress line on a terminal, rewritten in place.
type liveLine struct {
	mu    sync.Mutex
	w     io.Writer
	mode  bench.Mode
	shown bool
}

// newLiveLine returns nil unless w is a terminal: progress is for people
// watching, never for a file or a pipe.
func newLiveLine(w io.Writer, mode bench.Mode) *liveLine {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &liveLine{w: w, mode: mode}
}

func (l *liveLine) show(p bench.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	round := ""
	if p.Rounds > 1 {
		round = fmt.Sprintf("round %d/%d ", p.Round, p.Rounds)
	}
	// \r returns to the start of the line, ESC[K erases what is left of the
	// previous, possibly longer, line.
	fmt.Fprintf(l.w, "\r%s%s  %s  %s\x1b[K", round, p.Address, fmtSeconds(p.Elapsed), fmtRate(l.mode, p.Rate))
	l.shown = true
}

func (l *liveLine) clear() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		fmt.Fprint(l.w, "\r\x1b[K")
	}
}

// row is one line of figures: a name and one value per address.
type row struct {
	name   string
	values []string
}

func resultRows(r *bench.Result) []row {
	one := func(name, v string) row { return row{name: name, values: []string{v}} }
	rows := []row{one("address", r.Address), one("mode", describe(r)), one("measured", fmtSeconds(r.Elapsed))}
	switch r.Mode {
	case bench.Latency:
		rows = append(rows, one("round trips", fmtCount(r.Ops)), one("round trips/s", fmtCount(int64(r.OpsPerSec+0.5))))
	case bench.Throughput:
		rows = append(rows,
			one("sent", fmtBytes(float64(r.Bytes))),
			one("throughput", fmtBytes(r.BytesPerSec)+"/s"),
			one("writes", fmtCount(r.Ops)),
			one("received back", fmtBytes(float64(r.BytesRead))))
	case bench.Connect:
		rows = append(rows,
			one("connections", fmtCount(r.Ops)),
			one("connections/s", fmtCount(int64(r.OpsPerSec+0.5))),
			one("EAGAIN retries", fmtCount(r.Retries)))
	}
	if d := r.Latency; d != nil {
		for _, p := range []struct {
			name string
			v    time.Duration
		}{{"p50", d.P50}, {"p90", d.P90}, {"p99", d.P99}, {"p99.9", d.P999}, {"max", d.Max}} {
			rows = append(rows, one(p.name, fmtDuration(p.v)))
		}
	}
	return rows
}

// describe says in words what was measured.
func describe(r *bench.Result) string {
	conns := fmt.Sprintf("%d connections", r.Conns)
	if r.Conns == 1 {
		conns = "1 connection"
	}
	switch r.Mode {
	case bench.Latency:
		return fmt.Sprintf("latency, %d-byte round trips on %s", r.Size, conns)
	case bench.Throughput:
		return fmt.Sprintf("throughput, %d-byte writes on %s", r.Size, conns)
	}
	what := "connect and close"
	if r.Size > 0 {
		what = fmt.Sprintf("connect, one %d-byte round trip, close", r.Size)
	}
	loops := fmt.Sprintf("%d parallel loops", r.Conns)
	if r.Conns == 1 {
		loops = "1 loop"
	}
	return fmt.Sprintf("%s, %s", what, loops)
}

func printResult(w io.Writer, r *bench.Result) {
	var table [][]string
	for _, row := range resultRows(r) {
		table = append(table, []string{row.name, row.values[0]})
	}
	printTable(w, table, false)
}

func printComparison(w io.Writer, c *bench.Comparison) {
	fmt.Fprintf(w, "%s; %d rounds of %s per address, alternating\nA = %s\nB = %s\n",
		describe(c.A), c.Rounds, fmtSeconds(c.A.Elapsed/time.Duration(c.Rounds)), c.A.Address, c.B.Address)
	table := [][]string{{"", "A", "B", "B/A"}}
	a, b := resultRows(c.A), resultRows(c.B)
	for i := range a {
		if a[i].name == "address" || a[i].name == "mode" {
			continue
		}
		table = append(table, []string{a[i].name, a[i].values[0], b[i].values[0], rowRatio(a[i].name, c)})
	}
	printTable(w, table, true)
}

// printTable prints rows in columns two spaces apart; with right set, the
// columns after the first are aligned right, as figures read best.
func printTable(w io.Writer, rows [][]string, right bool) {
	var width []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 0 || !right {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(pad + cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// rowRatio is the B/A column of a comparison row, where a ratio means
// something.
func rowRatio(name string, c *bench.Comparison) string {
	switch name {
	case "round trips/s", "connections/s", "throughput":
		return fmt.Sprintf("%.2fx", c.RateRatio)
	case "p50":
		return fmt.Sprintf("%.2fx", c.P50Ratio)
	case "p99":
		return fmt.Sprintf("%.2fx", c.P99Ratio)
	}
	return ""
}

func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// fmtDuration prints a latency with three significant digits or so, in the
// unit that reads best.
func fmtDuration(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	switch {
	case us < 100:
		return fmt.Sprintf("%.2fµs", us)
	case us < 1000:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1000)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}

// fmtBytes prints a byte count in binary units.
func fmtBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.2f %s", n, units[i])
}

// fmtCount prints a count with thousands separators: 1,234,567.
func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRate(mode bench.Mode, rate float64) string {
	switch mode {
	case bench.Throughput:
		return fmtBytes(rate) + "/s"
	case bench.Connect:
		return fmtCount(int64(rate+0.5)) + " connections/s"
	}
	return fmtCount(int64(rate+0.5)) + " round trips/s"
}
