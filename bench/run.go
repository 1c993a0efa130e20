package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udsgate/udsgate/uds"
)

// Run measures the server at address (any address uds.ParseAddr accepts) as
// cfg says, and returns what it measured.
//
// Errors: a malformed address is the *uds.AddrError or *uds.PathTooLongError
// of uds.ParseAddr; a bad cfg wraps ErrInvalidConfig; a server that does not
// answer within cfg.Timeout wraps ErrTimeout; a refused connection, a server
// that closes early or a reply of the wrong size is an error naming the mode
// and address, with no result. If ctx is cancelled, Run stops at once and
// returns what was measured until then together with ctx.Err().
func Run(ctx context.Context, address string, cfg Config) (*Result, error) {
	a, cfg, err := prepare(address, cfg)
	if err != nil {
		return nil, err
	}
	t := newTally(cfg.Mode)
	err = runRound(ctx, a, cfg, t, progressInfo{address: address, round: 1, rounds: 1})
	return finish(ctx, address, cfg, t, err)
}

func prepare(address string, cfg Config) (uds.Addr, Config, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return uds.Addr{}, cfg, err
	}
	a, err := uds.ParseAddr(address)
	return a, cfg, err
}

// finish turns a tally and the error of its rounds into Run's answer.
func finish(ctx context.Context, address string, cfg Config, t *tally, err error) (*Result, error) {
	switch {
	case err == nil:
		return t.result(address, cfg), nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return t.result(address, cfg), err
	}
	return nil, fmt.Errorf("%s %s: %w", cfg.Mode, address, err)
}

// progressInfo says where a round stands, for Progress reports.
type progressInfo struct {
	address       string
	round, rounds int
}

// Phases of a slot's operation in flight, for timeout messages.
const (
	phaseOp    = iota // a round trip, write or connection
	phaseDrain        // waiting for the server to close after the half-close
)

// slot is the state of one worker (one connection or connect loop) that the
// monitor and abort may touch while the worker runs.
type slot struct {
	ops, bytes, bytesRead, retries atomic.Int64
	busy                           atomic.Int64 // start of the operation in flight, ns since round.base plus one; 0 when idle
	phase                          atomic.Int32

	mu      sync.Mutex
	conn    net.Conn // the connection in use, for abort to unblock
	aborted bool

	last time.Time // end of the last counted operation; the worker's alone until it returns
}

// setConn makes c the slot's connection, so that an abort unblocks it. It
// returns false if the round is already aborted; c is then the caller's to
// close.
func (s *slot) setConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return false
	}
	s.conn = c
	return true
}

func (s *slot) clearConn() {
	s.mu.Lock()
	s.conn = nil
	s.mu.Unlock()
}

// abort unblocks whatever I/O the slot's worker is doing on its connection:
// a deadline in the past makes every pending and future Read and Write fail
// at once.
func (s *slot) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	if s.conn != nil {
		// An error here means the connection is closed already, which
		// unblocks it just as well.
		_ = s.conn.SetDeadline(time.Unix(1, 0))
	}
}

// round is one measurement of one address: Run does one, Compare one per
// address per round.
type round struct {
	cfg    Config
	addr   uds.Addr
	parent context.Context
	ctx    context.Context // cancelled by abort; for dials
	cancel context.CancelFunc
	rec    *recorder
	slots  []*slot

	base, start, end time.Time
	stop             atomic.Bool

	errMu sync.Mutex
	err   error
}

// abort stops the round with the given reason (the first one wins) and
// unblocks all workers. A worker's failure caused by the caller's
// cancellation is reported as that cancellation.
func (r *round) abort(err error) {
	if cerr := r.parent.Err(); cerr != nil {
		err = cerr
	}
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
	r.stop.Store(true)
	r.cancel()
	for _, s := range r.slots {
		s.abort()
	}
}

// begin marks the start of an operation of s, for the timeout watch, and
// returns the time.
func (r *round) begin(s *slot) time.Time {
	now := time.Now()
	s.busy.Store(int64(now.Sub(r.base)) + 1)
	return now
}

// runRound measures once and adds what it measured to t.
func runRound(ctx context.Context, a uds.Addr, cfg Config, t *tally, info progressInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &round{cfg: cfg, addr: a, parent: ctx, rec: t.rec}
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	r.slots = make([]*slot, cfg.Conns)
	for i := range r.slots {
		r.slots[i] = &slot{}
	}

	// Latency and throughput connections are dialed before the clock starts.
	var conns []net.Conn
	if cfg.Mode != Connect {
		conns = make([]net.Conn, 0, cfg.Conns)
		for i := 0; i < cfg.Conns; i++ {
			c, err := uds.DialAddr(ctx, a)
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return fmt.Errorf("connect: %w", err)
			}
			conns = append(conns, c)
			r.slots[i].conn = c
		}
	}

	stopAfter := context.AfterFunc(ctx, func() { r.abort(ctx.Err()) })
	defer stopAfter()

	r.base = time.Now()
	r.start = r.base
	if cfg.Mode != Throughput {
		r.start = r.base.Add(cfg.Warmup)
	}
	r.end = r.start.Add(cfg.Duration)

	var wg sync.WaitGroup
	for i, s := range r.slots {
		var work func() error
		switch cfg.Mode {
		case Latency:
			work = func() error { return r.latencyWorker(s, conns[i]) }
		case Throughput:
			quota := int64(0)
			if cfg.Bytes > 0 {
				quota = cfg.Bytes / int64(cfg.Conns)
				if int64(i) < cfg.Bytes%int64(cfg.Conns) {
					quota++
				}
			}
			work = func() error { return r.throughputWorker(s, conns[i], quota) }
		case Connect:
			work = func() error { return r.connectWorker(s) }
		}
		wg.Go(func() {
			if err := work(); err != nil && !r.stop.Load() {
				r.abort(err)
			}
		})
	}
	done := make(chan struct{})
	var mwg sync.WaitGroup
	mwg.Go(func() { r.monitor(done, t, info) })
	wg.Wait()
	close(done)
	mwg.Wait()

	// Sum up. A cancellation from now on changes nothing: the round is over.
	stopAfter()
	r.errMu.Lock()
	err := r.err
	r.errMu.Unlock()
	var last time.Time
	var ops int64
	for _, s := range r.slots {
		ops += s.ops.Load()
		t.bytes += s.bytes.Load()
		t.bytesRead += s.bytesRead.Load()
		t.retries += s.retries.Load()
		if s.last.After(last) {
			last = s.last
		}
	}
	t.ops += ops
	if cfg.Mode == Latency || (cfg.Mode == Connect && cfg.Size > 0) {
		t.bytes += ops * int64(cfg.Size)
		t.bytesRead += ops * int64(cfg.Size)
	}
	if err != nil && ops == 0 {
		// Stopped before anything was counted: the time spent still counts
		// toward a partial result.
		last = time.Now()
	}
	if last.After(r.start) {
		t.elapsed += last.Sub(r.start)
	}
	return err
}

// monitor reports progress and fails operations that take longer than the
// timeout, until done is closed.
func (r *round) monitor(done <-chan struct{}, t *tally, info progressInfo) {
	every := min(max(r.cfg.Timeout/10, 10*time.Millisecond), time.Second)
	if r.cfg.Progress != nil {
		every = r.cfg.ProgressEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			r.checkTimeouts(now)
			if r.cfg.Progress != nil {
				r.cfg.Progress(r.progress(now, t, info))
			}
		}
	}
}

func (r *round) checkTimeouts(now time.Time) {
	for _, s := range r.slots {
		b := s.busy.Load()
		if b == 0 || now.Sub(r.base)-time.Duration(b-1) <= r.cfg.Timeout {
			continue
		}
		what := map[Mode]string{Latency: "a round trip", Throughput: "a write", Connect: "a connection"}[r.cfg.Mode]
		if s.phase.Load() == phaseDrain {
			what = "closing after the client's half-close (is the server a sink or an echo?)"
		}
		r.abort(fmt.Errorf("%w: %s took longer than %v", ErrTimeout, what, r.cfg.Timeout))
		return
	}
}

func (r *round) progress(now time.Time, t *tally, info progressInfo) Progress {
	p := Progress{Address: info.address, Round: info.round, Rounds: info.rounds, Elapsed: t.elapsed, Ops: t.ops, Bytes: t.bytes, Retries: t.retries}
	if now.After(r.start) {
		p.Elapsed += now.Sub(r.start)
	}
	for _, s := range r.slots {
		p.Ops += s.ops.Load()
		p.Bytes += s.bytes.Load()
		p.Retries += s.retries.Load()
	}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.Rate = float64(p.Ops) / secs
		if r.cfg.Mode == Throughput {
			p.Rate = float64(p.Bytes) / secs
		}
	}
	return p
}
