//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/udsgate/udsgate/bench"
)

// report is everything one run found, and writes it down.
type report struct {
	o          options
	machine    machine
	transports []*transportRow
	paths      []*pathRow
	memory     []*memRow
	notes      []string
	took       time.Duration
}

// Charts written next to benchmarks.md.
const (
	transportChart = "latency-transports.png"
	pathChart      = "latency-paths.png"
)

// write writes benchmarks.md and the charts into dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var series []chartSeries
	for _, t := range r.transports {
		if t.err == nil {
			series = append(series, chartSeries{t.name, t.res})
		}
	}
	if err := latencyChart(filepath.Join(dir, transportChart), "Echo round trip, 4 bytes, per transport", series); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	series = nil
	for _, p := range r.paths {
		if p.skip == "" && p.rtt.err == nil {
			series = append(series, chartSeries{p.name, p.rtt.res})
		}
	}
	if err := latencyChart(filepath.Join(dir, pathChart), "4-byte round trip through each path to the same Go echo", series); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(r.markdown()), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	m := r.machine
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Produced by `scripts/bench.sh` (the program `internal/benchsuite`) on %s; not written by hand. "+
		"Run `scripts/bench.sh` to measure your own machine (it takes a few minutes; it needs Go, and `cc` and `socat` for the reference rows).\n\n",
		m.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "## Machine\n\n| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
	row("date", m.Date.Format("2006-01-02 15:04 MST"))
	row("CPUs (nproc)", fmt.Sprint(m.CPUs))
	row("CPU", m.CPU)
	row("kernel", m.Kernel)
	row("OS", m.OS)
	row("Go", m.Go)
	row("C compiler (relay)", m.CC)
	row("socat", m.Socat)
	row("suite run time", r.took.Round(time.Second).String())

	fmt.Fprintf(&b, "\n## How it was measured\n\n")
	fmt.Fprintf(&b, "- Every figure comes from this one run, with real processes: the client is the suite itself (package `bench`), "+
		"the backends are a Go echo (package `echo`) and a Go sink (256 KiB reads), each in a process of its own.\n")
	fmt.Fprintf(&b, "- Rows of one table alternate: each figure runs in %d rounds, and each round measures every path in turn for %v "+
		"(after a %v warm-up that is not counted), so that noise on the machine hits every row alike. "+
		"Numbers on small VMs move ±30%% between runs; compare ratios within a run.\n",
		r.o.rounds, r.o.duration/time.Duration(r.o.rounds), min(r.o.duration/10, 200*time.Millisecond))
	fmt.Fprintf(&b, "- Round trip: one connection sends 4 bytes and waits for the 4 bytes back, again and again. "+
		"Latencies are recorded in an HDR histogram (3 significant digits).\n")
	fmt.Fprintf(&b, "- Bulk: %s in 64 KiB writes into the sink; the clock stops when the sink has read everything "+
		"(the client half-closes and waits for the sink's close).\n", fmtBytes(r.o.bulk))
	fmt.Fprintf(&b, "- Connection rate: connect, one 4-byte round trip, close, as fast as possible, with 1 and with 8 concurrent clients.\n")
	fmt.Fprintf(&b, "- The gate: `udsgate serve --listen unix:PATH --same-user --to unix:BACKEND`: "+
		"peer credentials, policy and the audit log on (the log goes to a file).\n")
	fmt.Fprintf(&b, "- The reference relay: `tools/relay/relay.c` (`cc -O2`), single-threaded epoll, in `--splice` and `--copy` mode: "+
		"the best one relay hop can do here.\n")
	fmt.Fprintf(&b, "- socat: `socat -b 65536 UNIX-LISTEN:PATH,fork,backlog=128 UNIX-CONNECT:BACKEND` (one process per connection).\n")
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- **Note:** %s\n", n)
	}

	b.WriteString("\n" + r.markdownTables())
	return b.String()
}

// markdownTables returns the tables alone, which the suite also prints.
func (r *report) markdownTables() string {
	var b strings.Builder
	r.transportTable(&b)
	r.pathTables(&b)
	r.memoryTable(&b)
	r.targetTable(&b)
	return b.String()
}

func (r *report) transportTable(b *strings.Builder) {
	fmt.Fprintf(b, "## Echo round trip per transport\n\n")
	fmt.Fprintf(b, "4-byte ping-pong on one connection to the Go echo backend; ratios in brackets are to unix (stream).\n\n")
	fmt.Fprintf(b, "| transport | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | round trips/s |\n|---|---|---|---|---|---|---|\n")
	var base *bench.Result
	for _, t := range r.transports {
		if t.err == nil && base == nil {
			base = t.res
		}
	}
	for _, t := range r.transports {
		if t.err != nil {
			fmt.Fprintf(b, "| %s | failed: %s |||||\n", t.name, oneLine(t.err))
			continue
		}
		d, bd := t.res.Latency, base.Latency
		fmt.Fprintf(b, "| %s | %s | %.2f | %s | %.2f | %.2f | %s |\n", t.name,
			withRatio(us(d.P50), us(bd.P50), "%.2f"), us(d.P90),
			withRatio(us(d.P99), us(bd.P99), "%.2f"), us(d.P999), us(d.Max),
			withRatio(t.res.OpsPerSec, base.OpsPerSec, "%.0f"))
	}
	fmt.Fprintf(b, "\n![Latency percentiles per transport](%s)\n\n", transportChart)
}

// best returns the best figure of the relay rows: the lowest for latency
// (less is better), the highest otherwise.
func (r *report) best(get func(*pathRow) float64, lower bool) (float64, string) {
	var v float64
	var name string
	for _, p := range r.paths {
		if p.kind != "relay" || p.skip != "" {
			continue
		}
		x := get(p)
		if x == 0 {
			continue
		}
		if name == "" || (lower && x < v) || (!lower && x > v) {
			v, name = x, p.name
		}
	}
	return v, name
}

// figure gets one number of a path, 0 when it is missing.
func rttP50(p *pathRow) float64 {
	if p.rtt.res == nil {
		return 0
	}
	return us(p.rtt.res.Latency.P50)
}
func rttP99(p *pathRow) float64 {
	if p.rtt.res == nil {
		return 0
	}
	return us(p.rtt.res.Latency.P99)
}
func rttRate(p *pathRow) float64 { return rate(p.rtt) }
func bulkGiB(p *pathRow) float64 {
	if p.bulk.res == nil {
		return 0
	}
	return p.bulk.res.BytesPerSec / (1 << 30)
}
func conn1Rate(p *pathRow) float64 { return rate(p.conn1) }
func conn8Rate(p *pathRow) float64 { return rate(p.conn8) }
func rate(o outcome) float64 {
	if o.res == nil {
		return 0
	}
	return o.res.OpsPerSec
}

func (r *report) pathTables(b *strings.Builder) {
	fmt.Fprintf(b, "## The gate against direct, the reference relay and socat\n\n")
	fmt.Fprintf(b, "Every row is the Go client → (nothing, or one hop) → the same Go echo or sink over Unix stream sockets. "+
		"Ratios in brackets: relay and socat rows to **direct**; the gate row to the **best relay** of that column "+
		"(the lower latency, the higher rate).\n\n")
	fmt.Fprintf(b, "| path | round trip p50 µs | p99 µs | round trips/s | bulk GiB/s | conns/s, 1 client | conns/s, 8 clients |\n|---|---|---|---|---|---|---|\n")
	var direct *pathRow
	for _, p := range r.paths {
		if p.kind == "direct" {
			direct = p
		}
	}
	cols := []struct {
		get   func(*pathRow) float64
		lower bool
		f     string
		o     func(*pathRow) outcome
	}{
		{rttP50, true, "%.2f", func(p *pathRow) outcome { return p.rtt }},
		{rttP99, true, "%.2f", func(p *pathRow) outcome { return p.rtt }},
		{rttRate, false, "%.0f", func(p *pathRow) outcome { return p.rtt }},
		{bulkGiB, false, "%.3f", func(p *pathRow) outcome { return p.bulk }},
		{conn1Rate, false, "%.0f", func(p *pathRow) outcome { return p.conn1 }},
		{conn8Rate, false, "%.0f", func(p *pathRow) outcome { return p.conn8 }},
	}
	for _, p := range r.paths {
		if p.skip != "" {
			fmt.Fprintf(b, "| %s | skipped: %s ||||||\n", p.name, oneLine(p.skip))
			continue
		}
		cells := []string{p.name}
		for _, c := range cols {
			if err := c.o(p).err; err != nil {
				cells = append(cells, "failed: "+oneLine(err))
				continue
			}
			v := c.get(p)
			switch p.kind {
			case "direct":
				cells = append(cells, fmt.Sprintf(c.f, v)+" **[base]**")
			case "gate":
				best, _ := r.best(c.get, c.lower)
				cells = append(cells, withRatio(v, best, c.f))
			default:
				cells = append(cells, withRatio(v, c.get(direct), c.f))
			}
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintf(b, "\n![Round-trip percentiles per path](%s)\n\n", pathChart)

	fmt.Fprintf(b, "### Connection rate in detail\n\nConnect, one 4-byte round trip, close; the latency is that of one whole connection. "+
		"Retries: connects refused with EAGAIN (listen backlog full) and retried after 1 ms.\n\n")
	fmt.Fprintf(b, "| path | 1 client conns/s | p50 µs | p99 µs | 8 clients conns/s | p50 µs | p99 µs | retries (1/8) |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.paths {
		if p.skip != "" {
			continue
		}
		cell := func(o outcome) string {
			if o.err != nil {
				return "failed: " + oneLine(o.err) + " | | "
			}
			return fmt.Sprintf("%.0f | %.2f | %.2f", o.res.OpsPerSec, us(o.res.Latency.P50), us(o.res.Latency.P99))
		}
		retries := func(o outcome) string {
			if o.res == nil {
				return "-"
			}
			return fmt.Sprint(o.res.Retries)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s/%s |\n", p.name, cell(p.conn1), cell(p.conn8), retries(p.conn1), retries(p.conn8))
	}
	b.WriteString("\n")
}

func (r *report) memoryTable(b *strings.Builder) {
	if len(r.memory) == 0 {
		return
	}
	fmt.Fprintf(b, "## Memory and descriptors per idle connection\n\n")
	fmt.Fprintf(b, "Up to %d connections held open through the process, each after one 4-byte round trip (so each reaches the backend); "+
		"resident memory (VmRSS of /proc/PID/status) and open descriptors (/proc/PID/fd) before and after, divided by the connections. "+
		"RSS is the process's own memory: the kernel's socket buffers are not in it.\n\n", r.o.idle)
	fmt.Fprintf(b, "| process | connections | RSS before | RSS after | KiB per connection | descriptors before | after | per connection |\n|---|---|---|---|---|---|---|---|\n")
	var limited []string
	for _, m := range r.memory {
		switch {
		case m.skip != "":
			fmt.Fprintf(b, "| %s | skipped: %s |||||||\n", m.name, m.skip)
		case m.err != nil:
			fmt.Fprintf(b, "| %s | failed: %s |||||||\n", m.name, oneLine(m.err))
		default:
			conns := fmt.Sprint(m.conns)
			if m.limited != "" {
				conns += "*"
				limited = append(limited, fmt.Sprintf("%s: %s", m.name, m.limited))
			}
			fmt.Fprintf(b, "| %s | %s | %.1f MiB | %.1f MiB | %.2f | %d | %d | %.2f |\n", m.name, conns,
				float64(m.rssBefore)/(1<<20), float64(m.rssAfter)/(1<<20), m.kibPerConn(), m.fdsBefore, m.fdsAfter, m.fdsPerConn())
		}
	}
	if len(limited) > 0 {
		fmt.Fprintf(b, "\n\\* Fewer connections than %d, to stay within the descriptor limit: %s.\n", r.o.idle, strings.Join(limited, "; "))
	}
	b.WriteString("\n")
}

// target is one goal of the gate, with what the run found.
type target struct {
	what, gate, ref, ratio, goal string
	met                          string // "yes", "**no**" or "-" when it could not be measured
}

func (r *report) targetTable(b *strings.Builder) {
	var gate, splice, socat *pathRow
	for _, p := range r.paths {
		switch {
		case p.kind == "gate" && p.skip == "":
			gate = p
		case p.name == "relay (splice)" && p.skip == "":
			splice = p
		case p.kind == "socat" && p.skip == "":
			socat = p
		}
	}
	fmt.Fprintf(b, "## Targets\n\nThe gate's goals (issues 4 and 6), checked against this run.\n\n")
	fmt.Fprintf(b, "| goal | gate | reference | gate ÷ reference | needed | met |\n|---|---|---|---|---|---|\n")
	var ts []target
	cmp := func(what string, get func(*pathRow) float64, ref *pathRow, refName string, lower bool, bound float64, f, unit string) {
		t := target{what: what, met: "-", gate: "-", ref: "-", ratio: "-"}
		if lower {
			t.goal = fmt.Sprintf("≤ %.2g×", bound)
		} else {
			t.goal = fmt.Sprintf("≥ %.2g×", bound)
		}
		if bound == 1 {
			t.goal = map[bool]string{true: "< 1×", false: "> 1×"}[lower]
		}
		var g, v float64
		if gate != nil {
			g = get(gate)
		}
		if ref != nil {
			v = get(ref)
		}
		if refName == "" && ref != nil {
			refName = ref.name
		}
		if g > 0 {
			t.gate = fmt.Sprintf(f, g) + unit
		}
		if v > 0 {
			t.ref = fmt.Sprintf(f, v) + unit + " (" + refName + ")"
		}
		if g > 0 && v > 0 {
			q := g / v
			t.ratio = fmt.Sprintf("%.3f×", q) // three places: 0.899 must not read as 0.90
			ok := q >= bound
			if lower {
				ok = q <= bound
			}
			if bound == 1 {
				ok = q > 1
				if lower {
					ok = q < 1
				}
			}
			t.met = map[bool]string{true: "yes", false: "**no**"}[ok]
		}
		ts = append(ts, t)
	}
	bestOf := func(get func(*pathRow) float64, lower bool) *pathRow {
		_, name := r.best(get, lower)
		for _, p := range r.paths {
			if p.name == name {
				return p
			}
		}
		return nil
	}
	cmp("bulk throughput ≥ 0.9 × the splice relay", bulkGiB, splice, "", false, 0.9, "%.3f", " GiB/s")
	cmp("round trip (p50) ≤ 1.1 × the best relay", rttP50, bestOf(rttP50, true), "", true, 1.1, "%.2f", " µs")
	cmp("connection rate, 1 client ≥ 0.9 × the best relay", conn1Rate, bestOf(conn1Rate, false), "", false, 0.9, "%.0f", "/s")
	cmp("connection rate, 8 clients ≥ 0.9 × the best relay", conn8Rate, bestOf(conn8Rate, false), "", false, 0.9, "%.0f", "/s")
	cmp("bulk throughput better than socat", bulkGiB, socat, "", false, 1, "%.3f", " GiB/s")
	cmp("round trip (p50) better than socat", rttP50, socat, "", true, 1, "%.2f", " µs")
	cmp("connection rate, 1 client better than socat", conn1Rate, socat, "", false, 1, "%.0f", "/s")
	cmp("connection rate, 8 clients better than socat", conn8Rate, socat, "", false, 1, "%.0f", "/s")

	var gm *memRow
	for _, m := range r.memory {
		if m.name == "gate" && m.skip == "" && m.err == nil {
			gm = m
		}
	}
	held := r.o.idle
	if gm != nil {
		held = gm.conns
	}
	mem := target{what: fmt.Sprintf("resident memory per idle connection at %d connections", held), gate: "-", ref: "-", ratio: "-", goal: "≤ 10 KiB", met: "-"}
	fds := target{what: fmt.Sprintf("descriptors per idle connection at %d connections", held), gate: "-", ref: "-", ratio: "-", goal: "≤ 2", met: "-"}
	if gm != nil {
		mem.gate = fmt.Sprintf("%.2f KiB", gm.kibPerConn())
		mem.met = map[bool]string{true: "yes", false: "**no**"}[gm.kibPerConn() <= 10]
		fds.gate = fmt.Sprintf("%.2f", gm.fdsPerConn())
		// Compared as printed, to two places: a descriptor or two of the
		// process's own (a log rotation, a timer) is not per connection.
		fds.met = map[bool]string{true: "yes", false: "**no**"}[gm.fdsPerConn() < 2.005]
	}
	ts = append(ts, mem, fds)
	for _, t := range ts {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", t.what, t.gate, t.ref, t.ratio, t.goal, t.met)
	}
	b.WriteString("\n")
}

// withRatio formats v and, if base is known, v/base in brackets.
func withRatio(v, base float64, f string) string {
	s := fmt.Sprintf(f, v)
	if base > 0 {
		s += fmt.Sprintf(" (%.2f×)", v/base)
	}
	return s
}

// oneLine keeps an error to one table cell.
func oneLine(v any) string {
	s := fmt.Sprint(v)
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", "/")
}
