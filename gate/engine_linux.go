package gate

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/udsgate/udsgate/peercred"
	"github.com/udsgate/udsgate/uds"
)

// hasEngine: stream gates in front of a socket backend use the engine.
const hasEngine = true

// The engine moves bytes in epoll loops, each a goroutine on a thread of
// its own, as the
// reference relay in tools/relay does: sockets are non-blocking and
// edge-triggered, every read or splice is repeated until EAGAIN, and a
// direction whose output is full waits for EPOLLOUT on it. Stream-to-stream
// directions splice socket -> pipe -> socket with no copy through user
// space; the pipe is taken from a pool for the move and handed back as soon
// as it is empty, so an idle connection holds no pipe, no buffer and no
// goroutine: only its two descriptors and a few hundred bytes of state.
// Seqpacket directions copy through one buffer per loop, message by message.
const (
	maxLoops        = 4
	yieldEvery      = 5 * time.Millisecond
	pipeSize        = 1 << 20 // asked of F_SETPIPE_SZ; the kernel may give less
	copyBufSize     = 256 << 10
	maxIdlePipes    = 16
	maxEvents       = 256
	connectRetry    = time.Millisecond // a backend with a full backlog says EAGAIN
	connectDeadline = 2 * time.Second
	acceptPause     = 50 * time.Millisecond // after EMFILE and friends
	sockEvents      = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
)

type engine struct {
	g        *Gate
	lfd      int // a dup of the listener's descriptor, owned by the engine
	epfd     int
	wakefd   int // eventfd written by stop
	baddr    unix.Sockaddr
	bdomain  int
	btype    int
	splice   bool // both sides are stream sockets
	copyBuf  []byte
	pipes    []pipe // empty pipes ready for use
	pipeCap  int
	ends     []*end // by descriptor
	retry    []*pair
	refusing []*pair   // refused clients read to their end, oldest first
	paused   time.Time // accepting paused until then (zero: not paused)
	events   []unix.EpollEvent
	gen      int32 // generation of the last tracked end
}

type pipe struct{ r, w int }

// pair is one allowed connection: the client and the backend.
type pair struct {
	adm      admission
	ends     [2]end // 0: client, 1: backend
	dirs     [2]dir // 0: client -> backend, 1: backend -> client
	open     bool   // backend connected and both sides watched
	deadline time.Time
	dead     bool
	failure  error
	refused  bool // a denied client, read to its end before closing
}

// end is the epoll cookie of one socket of a pair. Its generation, kept
// in the event's spare word, tells a stale event for a closed descriptor
// from an event for a new socket that reused the number in the same batch.
type end struct {
	p    *pair
	side int
	fd   int
	gen  int32
}

// dir is one direction: bytes read from src are written to dst.
type dir struct {
	src, dst int
	pipe     pipe
	hasPipe  bool
	pending  int    // splice: bytes in the pipe
	buf      []byte // copy: unsent bytes
	other    *dir   // the opposite direction of the same pair
	bulk     bool   // splice: the last read was bulkThreshold or more
	blocked  bool   // dst said EAGAIN: wait for EPOLLOUT on it
	eof      bool   // src reached EOF
	done     bool   // EOF passed on with shutdown(dst, SHUT_WR)
	bytes    int64
}

// serveEngine runs loopsFor(GOMAXPROCS) engine loops, each with its own
// epoll set. All of them watch the listener with EPOLLEXCLUSIVE,
// so a new connection wakes one loop, which then owns it to the end.
func (g *Gate) serveEngine() error {
	n := loopsFor(runtime.GOMAXPROCS(0))
	if g.loops > 0 {
		n = g.loops
	}
	engines := make([]*engine, 0, n)
	for range n {
		e, err := newEngine(g)
		if err != nil {
			for _, e := range engines {
				e.close()
			}
			return err
		}
		engines = append(engines, e)
	}
	g.mu.Lock()
	select {
	case <-g.closed:
		g.mu.Unlock()
		for _, e := range engines {
			e.close()
		}
		return nil
	default:
	}
	for _, e := range engines {
		g.conns[e] = struct{}{} // Close wakes the engine through e.Close
	}
	g.mu.Unlock()
	// The engines hold duplicates of the listening socket. Go's own
	// descriptor for it is closed now: while it stayed in the runtime's
	// netpoller, every new connection woke a runtime thread for nothing
	// (a context switch per connection in the profile). The socket stays
	// bound through the duplicates, and g.ln still removes the file.
	if err := g.ln.Listener.Close(); err != nil {
		g.logFailure(0, "detach listener from the netpoller", err)
	}

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() {
			defer g.untrack(e)
			// The loop keeps its thread: a wake-up then finds the thread
			// and its caches as it left them (measured against an
			// unlocked loop: bulk 1.0x against 0.7x of the relay).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			errs[i] = e.run()
			e.close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loopsFor is the number of engine loops for procs Ps: one per two, up to
// maxLoops. A loop blocks in epoll_wait holding its P; the runtime leaves it
// there only while another P is idle (sysmon's retake), and otherwise hands
// the P off and makes the loop queue for one on every wake-up, which costs
// more than a second loop gains (measured: connection rate with one client
// 0.80x with two loops on two CPUs against one). The clients and backends on
// the same machine want the other CPUs anyway.
func loopsFor(procs int) int {
	return min(max(procs/2, 1), maxLoops)
}

func newEngine(g *Gate) (*engine, error) {
	e := &engine{g: g, lfd: -1, epfd: -1, wakefd: -1, copyBuf: make([]byte, copyBufSize),
		events: make([]unix.EpollEvent, maxEvents)}
	if err := e.setBackend(g.backend.Addr); err != nil {
		return nil, err
	}
	rc, err := g.ln.Listener.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, err
	}
	var listenType int
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		e.lfd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		if dupErr == nil {
			listenType, dupErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
		}
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		e.close()
		return nil, fmt.Errorf("engine: listener: %w", dupErr)
	}
	e.splice = listenType == unix.SOCK_STREAM && e.btype == unix.SOCK_STREAM
	if err := e.setupPoll(); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *engine) setBackend(a uds.Addr) error {
	switch a.Net {
	case uds.Unix, uds.UnixPacket:
		e.bdomain, e.btype = unix.AF_UNIX, unix.SOCK_STREAM
		if a.Net == uds.UnixPacket {
			e.btype = unix.SOCK_SEQPACKET
		}
		e.baddr = &unix.SockaddrUnix{Name: a.Name}
		return nil
	case uds.TCP:
		ta, err := net.ResolveTCPAddr("tcp", a.Name)
		if err != nil {
			return fmt.Errorf("backend %s: %w", a, err)
		}
		e.btype = unix.SOCK_STREAM
		if ip4 := ta.IP.To4(); ip4 != nil {
			sa := &unix.SockaddrInet4{Port: ta.Port}
			copy(sa.Addr[:], ip4)
			e.bdomain, e.baddr = unix.AF_INET, sa
		} else {
			sa := &unix.SockaddrInet6{Port: ta.Port}
			copy(sa.Addr[:], ta.IP.To16())
			e.bdomain, e.baddr = unix.AF_INET6, sa
		}
		return nil
	}
	return fmt.Errorf("backend %s: not a stream address", a)
}

func (e *engine) setupPoll() error {
	var err error
	if e.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("engine: epoll_create1: %w", err)
	}
	if e.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("engine: eventfd: %w", err)
	}
	if err := e.watch(e.wakefd, unix.EPOLLIN); err != nil {
		return err
	}
	return e.watchListener()
}

// watchListener watches the listener level-triggered (accept takes one
// connection at a time) and exclusively: one loop wakes per connection,
// not all of them.
func (e *engine) watchListener() error {
	return e.watch(e.lfd, unix.EPOLLIN|unix.EPOLLEXCLUSIVE)
}

func (e *engine) watch(fd int, events uint32) error {
	return e.watchGen(fd, events, 0)
}

func (e *engine) watchGen(fd int, events uint32, gen int32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: gen}
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("engine: epoll_ctl: %w", err)
	}
	return nil
}

// Close wakes the loop and makes it stop; the loop closes everything.
func (e *engine) Close() error {
	var one = [8]byte{1}
	_, err := unix.Write(e.wakefd, one[:])
	return err
}

// close releases the engine's own descriptors after the loop ended.
func (e *engine) close() {
	for _, fd := range []int{e.lfd, e.epfd, e.wakefd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	for _, p := range e.pipes {
		closePipe(p)
	}
	e.pipes = nil
}

// run is the loop. It returns when Close is called, after closing every
// connection.
func (e *engine) run() error {
	lastYield := time.Now()
	for {
		// A goroutine that never passes through the scheduler looks stuck
		// to the runtime's sysmon after 10ms: it takes the loop's P away
		// in epoll_wait and then polls every 20µs for a while (retake in
		// runtime/proc.go), thousands of wake-ups a second on a machine
		// the clients and backends share. Yielding every few milliseconds
		// keeps it asleep: in 30,000 round trips the runtime's other
		// threads switched 1,500 times instead of 10,000.
		if now := time.Now(); now.Sub(lastYield) > yieldEvery {
			runtime.Gosched()
			lastYield = now
		}
		n, err := unix.EpollWait(e.epfd, e.events, e.timeout())
		if err != nil && err != unix.EINTR {
			e.closeAll()
			return fmt.Errorf("engine: epoll_wait: %w", err)
		}
		if e.handle(e.events[:max(n, 0)]) {
			e.closeAll()
			return nil
		}
		e.retryConnects()
		e.resumeAccepting()
		e.expireRefusals()
	}
}

// handle dispatches a batch of events; it reports whether Close asked the
// loop to stop.
func (e *engine) handle(events []unix.EpollEvent) (stop bool) {
	for _, ev := range events {
		switch fd := int(ev.Fd); fd {
		case e.wakefd:
			return true
		case e.lfd:
			e.accept()
		default:
			if fd < len(e.ends) && e.ends[fd] != nil && e.ends[fd].gen == ev.Pad {
				e.onSocket(e.ends[fd], ev.Events)
			}
		}
	}
	return false
}

// timeout is epoll_wait's in milliseconds: forever, unless a connect is to
// be retried, accepting is paused, or a refused client is to be closed.
func (e *engine) timeout() int {
	if len(e.retry) > 0 {
		return int(connectRetry / time.Millisecond)
	}
	var next time.Time
	if len(e.refusing) > 0 {
		next = e.refusing[0].deadline
	}
	if !e.paused.IsZero() && (next.IsZero() || e.paused.Before(next)) {
		next = e.paused
	}
	if next.IsZero() {
		return -1
	}
	return max(int(time.Until(next)/time.Millisecond)+1, 0)
}

// accept takes one connection from the listener. The listener is watched
// level-triggered, so if more are waiting, the next epoll_wait, which the
// loop makes anyway, says so at once: one accept4 that fails with EAGAIN
// per connection saved, and connections and data take turns.
func (e *engine) accept() {
	for {
		fd, err := accept4(e.lfd)
		switch err {
		case nil:
			e.admit(fd)
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EAGAIN:
			return
		}
		// Out of descriptors or memory: stop watching the listener for a
		// moment instead of spinning on it.
		e.g.logFailure(0, "accept", err)
		if unix.EpollCtl(e.epfd, unix.EPOLL_CTL_DEL, e.lfd, nil) == nil {
			e.paused = time.Now().Add(acceptPause)
		}
		return
	}
}

func (e *engine) resumeAccepting() {
	if e.paused.IsZero() || time.Now().Before(e.paused) {
		return
	}
	e.paused = time.Time{}
	if err := e.watchListener(); err != nil {
		e.g.logFailure(0, "accept", err)
	}
}

// accept4 accepts without asking for the peer's address, which the gate
// does not need and x/sys/unix.Accept4 would allocate.
func accept4(lfd int) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0,
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// admit takes a new client through the gate: credentials, decision, audit
// line, then refusal or a connect to the backend.
func (e *engine) admit(cfd int) {
	cred, err := peercred.FromFD(cfd)
	if err != nil {
		e.g.logFailure(0, "peer credentials", err)
		unix.Close(cfd)
		return
	}
	adm := e.g.decide(cred)
	if !adm.decision.Allow {
		e.linger(cfd, e.g.deny)
		return
	}
	bfd, err := unix.Socket(e.bdomain, e.btype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		e.g.logFailure(adm.id, "backend socket", err)
		unix.Close(cfd)
		return
	}
	p := &pair{adm: adm, deadline: adm.start.Add(connectDeadline)}
	p.ends[0] = end{p: p, side: 0, fd: cfd}
	p.ends[1] = end{p: p, side: 1, fd: bfd}
	p.dirs[0] = dir{src: cfd, dst: bfd, other: &p.dirs[1]}
	p.dirs[1] = dir{src: bfd, dst: cfd, other: &p.dirs[0]}
	e.connect(p)
}

// connect starts or retries the backend connect. A Unix stream connect
// completes at once or fails with EAGAIN when the backend's backlog is full
// (retried every connectRetry until connectDeadline); a TCP connect may be
// in progress, and then EPOLLOUT on the backend says it is done.
func (e *engine) connect(p *pair) {
	err := unix.Connect(p.ends[1].fd, e.baddr)
	switch {
	case err == nil:
		e.open(p)
	case err == unix.EAGAIN && time.Now().Before(p.deadline):
		e.retry = append(e.retry, p)
	case err == unix.EINPROGRESS:
		e.track(&p.ends[1])
		if err := e.watchGen(p.ends[1].fd, sockEvents, p.ends[1].gen); err != nil {
			e.fail(p, err)
		}
	default:
		e.unreachable(p, err)
	}
}

func (e *engine) retryConnects() {
	if len(e.retry) == 0 {
		return
	}
	list := e.retry
	e.retry = nil
	for _, p := range list {
		e.connect(p)
	}
}

// unreachable ends a pair whose backend could not be reached: the log says
// why, and the client is closed as a refused one is, so that it reads a
// clean end rather than a reset.
func (e *engine) unreachable(p *pair, err error) {
	e.g.logFailure(p.adm.id, "backend unreachable", fmt.Errorf("connect %s: %w", e.g.backend, err))
	p.dead = true
	for i := range p.ends {
		if fd := p.ends[i].fd; fd < len(e.ends) && e.ends[fd] == &p.ends[i] {
			e.ends[fd] = nil
		}
	}
	unix.Close(p.ends[1].fd)
	e.linger(p.ends[0].fd, nil)
}

// open watches both sockets of a connected pair. A socket added to an
// edge-triggered epoll set reports at once what it is ready for
// (ep_insert in fs/eventpoll.c), so bytes the client sent before the
// backend answered arrive as the first event and need no read here. Only a
// backend watched already, while its TCP connect was in progress, may hold
// an edge that was spent on that event: its direction is pumped now.
func (e *engine) open(p *pair) {
	p.open = true
	watched := false
	for i := range p.ends {
		if fd := p.ends[i].fd; fd < len(e.ends) && e.ends[fd] == &p.ends[i] {
			watched = true
			continue
		}
		e.track(&p.ends[i])
		if err := e.watchGen(p.ends[i].fd, sockEvents, p.ends[i].gen); err != nil {
			e.fail(p, err)
			return
		}
	}
	if watched {
		e.afterPump(p, e.pump(&p.dirs[1]))
	}
}

func (e *engine) track(en *end) {
	for en.fd >= len(e.ends) {
		e.ends = append(e.ends, make([]*end, len(e.ends)+64)...)
	}
	e.gen++
	if e.gen == 0 {
		e.gen = 1 // 0 is the wake-up and listener descriptors' generation
	}
	en.gen = e.gen
	e.ends[en.fd] = en
}

func (e *engine) onSocket(en *end, events uint32) {
	p := en.p
	if p.dead {
		return
	}
	if p.refused {
		if drain(en.fd, e.copyBuf) {
			e.teardown(p)
		}
		return
	}
	if !p.open { // the backend's TCP connect finished, one way or the other
		soErr, err := unix.GetsockoptInt(en.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			e.unreachable(p, err)
		case soErr != 0:
			e.unreachable(p, syscall.Errno(soErr))
		default:
			e.open(p)
		}
		return
	}
	in := &p.dirs[en.side]    // this socket is its source
	out := &p.dirs[1-en.side] // this socket is its destination
	hangup := events&(unix.EPOLLHUP|unix.EPOLLERR) != 0
	var err error
	if events&unix.EPOLLOUT != 0 || hangup {
		out.blocked = false
		if out.pending > 0 || len(out.buf) > 0 {
			err = e.pump(out)
		}
	}
	if err == nil && (events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 || hangup) && (!in.blocked || hangup) {
		err = e.pump(in)
	}
	e.afterPump(p, err)
}

func (e *engine) afterPump(p *pair, err error) {
	if err != nil {
		e.fail(p, err)
		return
	}
	if p.dirs[0].done && p.dirs[1].done {
		e.teardown(p)
	}
}

func (e *engine) fail(p *pair, err error) {
	if p.failure == nil && err != unix.ECONNRESET && err != unix.EPIPE {
		p.failure = err
	}
	e.teardown(p)
}

// pump moves bytes along d until its source or destination says EAGAIN, or
// the source ends; then it passes the end on. Errors end the pair.
//
// Small transfers are copied through the loop's buffer: for a few bytes,
// read and write cost less than splicing through a pipe (the reference
// relay's copy mode answers round trips about 5% faster than its splice
// mode here). A read of bulkThreshold or more means bulk: the direction
// then splices, with no copy through user space, until a splice moves less
// than smallThreshold. Seqpacket directions always copy: splice would lose the
// message boundaries.
func (e *engine) pump(d *dir) error {
	if d.done {
		return nil
	}
	for {
		if blocked, err := e.flush(d); blocked || err != nil {
			return err
		}
		if d.eof {
			return e.passEOF(d)
		}
		var n int
		var err error
		if d.bulk {
			n, err = e.spliceIn(d)
			if n > 0 {
				d.bulk = n >= smallThreshold
			}
		} else {
			n, err = e.copyOnce(d)
			d.bulk = e.splice && n >= bulkThreshold
		}
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return nil
		case err != nil:
			return err
		case n == 0:
			// For seqpacket an empty message reads as 0 too; it is taken
			// for the end, as read(2) cannot tell the two apart.
			d.eof = true
		}
	}
}

// A direction turns to splicing when one read brings bulkThreshold or more,
// and back to copying only when a splice brings less than smallThreshold:
// the gap keeps a stream whose chunks vary from flapping between the two.
const (
	spliceFlags    = unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
	bulkThreshold  = 64 << 10
	smallThreshold = 4 << 10
)

// flush writes what d holds from an earlier move: bytes in its pipe or in
// its buffer. It reports blocked when dst cannot take them all now; d then
// waits for EPOLLOUT on dst. An emptied pipe goes back to the pool.
func (e *engine) flush(d *dir) (blocked bool, err error) {
	for d.pending > 0 {
		n, err := unix.Splice(d.pipe.r, nil, d.dst, nil, d.pending, spliceFlags)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			d.blocked = true
			return true, nil // the pipe stays with d until dst drains it
		case err != nil:
			return false, err
		}
		d.pending -= int(n)
		d.bytes += n
	}
	if d.hasPipe {
		e.putPipe(d.pipe)
		d.hasPipe = false
	}
	for len(d.buf) > 0 {
		n, err := unix.Write(d.dst, d.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			d.blocked = true
			return true, nil
		case err != nil:
			return false, err
		}
		d.buf = d.buf[n:]
		d.bytes += int64(n)
	}
	d.buf = nil
	return false, nil
}

// spliceIn moves up to a pipe's worth from src into a pipe of the pool,
// left with d for flush to write out.
func (e *engine) spliceIn(d *dir) (int, error) {
	p, err := e.getPipe()
	if err != nil {
		return 0, err
	}
	n, err := unix.Splice(d.src, nil, p.w, nil, e.pipeCap, spliceFlags)
	if err != nil || n == 0 {
		e.putPipe(p)
		return 0, err
	}
	d.pipe, d.hasPipe, d.pending = p, true, int(n)
	return int(n), nil
}

// copyOnce reads once from src into the loop's buffer and writes it to dst
// at once; what dst does not take is kept in a buffer of d's own, so only
// a blocked direction holds memory.
func (e *engine) copyOnce(d *dir) (int, error) {
	n, err := unix.Read(d.src, e.copyBuf)
	if err != nil || n <= 0 {
		return 0, err
	}
	w, err := unix.Write(d.dst, e.copyBuf[:n])
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		return n, err
	}
	w = max(w, 0)
	d.bytes += int64(w)
	if w < n {
		d.buf = append([]byte(nil), e.copyBuf[w:n]...)
	}
	return n, nil
}

// passEOF passes the end of d's source on as a half-close of its
// destination, unless the other direction is done too: then the pair is
// closed at once, which says the same.
func (e *engine) passEOF(d *dir) error {
	d.done = true
	if d.other.done {
		return nil
	}
	if err := unix.Shutdown(d.dst, unix.SHUT_WR); err != nil && err != unix.ENOTCONN {
		return err
	}
	return nil
}

func (e *engine) getPipe() (pipe, error) {
	if n := len(e.pipes); n > 0 {
		p := e.pipes[n-1]
		e.pipes = e.pipes[:n-1]
		return p, nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return pipe{}, fmt.Errorf("pipe: %w", err)
	}
	// Best effort: pipe-max-size or the user's pipe quota may refuse.
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	if e.pipeCap == 0 {
		e.pipeCap = 64 << 10
		if n, err := unix.FcntlInt(uintptr(fds[1]), unix.F_GETPIPE_SZ, 0); err == nil && n > 0 {
			e.pipeCap = n
		}
	}
	return pipe{r: fds[0], w: fds[1]}, nil
}

// putPipe takes back an empty pipe.
func (e *engine) putPipe(p pipe) {
	if len(e.pipes) >= maxIdlePipes {
		closePipe(p)
		return
	}
	e.pipes = append(e.pipes, p)
}

func closePipe(p pipe) {
	unix.Close(p.r)
	unix.Close(p.w)
}

// teardown closes both sockets of a pair and logs its end. It marks the
// pair dead, so that later events of the same batch, which may still name
// it, leave it alone.
func (e *engine) teardown(p *pair) {
	if p.dead {
		return
	}
	p.dead = true
	for i := range p.ends {
		fd := p.ends[i].fd
		if fd < 0 {
			continue
		}
		if fd < len(e.ends) && e.ends[fd] == &p.ends[i] {
			e.ends[fd] = nil
		}
		unix.Close(fd) // closing also drops it from the epoll set
	}
	for i := range p.dirs {
		d := &p.dirs[i]
		if d.hasPipe {
			closePipe(d.pipe) // not empty: not fit for reuse
		}
	}
	if !p.refused {
		e.g.logClosed(p.adm, p.dirs[0].bytes, p.dirs[1].bytes, p.failure)
	}
}

// closeAll ends every connection, when the gate stops.
func (e *engine) closeAll() {
	for _, p := range e.retry {
		e.teardown(p)
	}
	e.retry = nil
	e.refusing = nil
	for _, en := range e.ends {
		if en != nil {
			e.teardown(en.p)
		}
	}
}

// linger writes msg (the deny message, or nothing) to a client that will
// not be served and half-closes, then reads what the client sends until it
// ends or refuseDrainTime passes, and only then closes: closing a Unix
// socket with unread data makes the peer's next read fail with ECONNRESET,
// and a client that writes its request first should still read the message
// and a clean end.
func (e *engine) linger(fd int, msg []byte) {
	if len(msg) > 0 {
		unix.Write(fd, msg) // best effort: the client may be gone already
	}
	unix.Shutdown(fd, unix.SHUT_WR)
	if drain(fd, e.copyBuf) {
		unix.Close(fd)
		return
	}
	p := &pair{refused: true, deadline: time.Now().Add(refuseDrainTime)}
	p.ends[0] = end{p: p, fd: fd}
	p.ends[1].fd = -1
	e.track(&p.ends[0])
	if err := e.watchGen(fd, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET, p.ends[0].gen); err != nil {
		e.teardown(p)
		return
	}
	e.refusing = append(e.refusing, p)
}

// drain reads and discards what fd has; it reports whether the peer is
// done (end of stream or an error) rather than merely quiet.
func drain(fd int, scratch []byte) bool {
	for {
		n, err := unix.Read(fd, scratch)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil || n == 0:
			return true
		}
	}
}

// expireRefusals closes refused clients whose time is up.
func (e *engine) expireRefusals() {
	now := time.Now()
	i := 0
	for ; i < len(e.refusing); i++ {
		p := e.refusing[i]
		if !p.dead && now.Before(p.deadline) {
			break
		}
		e.teardown(p)
	}
	if i > 0 {
		e.refusing = append(e.refusing[:0], e.refusing[i:]...)
	}
}
