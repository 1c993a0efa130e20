package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udsgate/udsgate/peercred"
	"github.com/udsgate/udsgate/policy"
	"github.com/udsgate/udsgate/uds"
)

// DefaultDenyMessage is what a denied peer reads when Config.DenyMessage is
// not set.
const DefaultDenyMessage = "access denied\n"

// Config is one gate. Listen, Policy and Backend are required.
type Config struct {
	// Listen is the address to listen on (see uds.ParseAddr), with the
	// socket file's mode, owner and group in ListenConfig.
	Listen       string
	ListenConfig uds.ListenConfig

	// Policy decides who may pass.
	Policy *policy.Policy

	// Backend is where allowed peers go (see ParseBackend).
	Backend string

	// DenyMessage is written to a denied peer before its connection is
	// closed. Nil means DefaultDenyMessage; an empty string closes silently.
	DenyMessage *string

	// Logger receives the audit lines: one when a peer is decided, one when
	// an allowed connection closes. Nil discards them.
	Logger *slog.Logger

	noEngine bool // tests: serve streams with goroutines even on Linux
	loops    int  // engine loops; 0 picks one per CPU
}

// Gate is a listening gate. Make one with Listen, run it with Serve.
type Gate struct {
	addr    uds.Addr
	backend Backend
	policy  *policy.Policy
	deny    []byte
	log     *slog.Logger

	noEngine bool
	loops    int

	ln *uds.Listener   // stream gates
	pc *uds.PacketConn // datagram gates

	nextID    atomic.Uint64
	closeOnce sync.Once
	closed    chan struct{}
	ctx       context.Context // cancelled by Close, for the built-ins
	cancel    context.CancelFunc
	wg        sync.WaitGroup // connection goroutines

	mu    sync.Mutex
	conns map[io.Closer]struct{} // open connections of the goroutine paths
}

// Listen checks the configuration and listens. Nothing is served until
// Serve is called; the caller must Close the gate (or cancel Serve's
// context), which removes the socket file.
func Listen(ctx context.Context, cfg Config) (*Gate, error) {
	a, err := uds.ParseAddr(cfg.Listen)
	if err != nil {
		return nil, err
	}
	b, err := ParseBackend(cfg.Backend)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	if err := checkPair(a, b); err != nil {
		return nil, err
	}
	if cfg.Policy == nil {
		return nil, errors.New("gate: no policy")
	}
	g := &Gate{
		addr:     a,
		backend:  b,
		policy:   cfg.Policy,
		deny:     []byte(DefaultDenyMessage),
		log:      cfg.Logger,
		closed:   make(chan struct{}),
		conns:    make(map[io.Closer]struct{}),
		noEngine: cfg.noEngine,
		loops:    cfg.loops,
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if cfg.DenyMessage != nil {
		g.deny = []byte(*cfg.DenyMessage)
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if a.IsDatagram() {
		g.pc, err = cfg.ListenConfig.ListenPacket(ctx, cfg.Listen)
	} else {
		g.ln, err = cfg.ListenConfig.Listen(ctx, cfg.Listen)
	}
	if err != nil {
		g.cancel()
		return nil, err
	}
	return g, nil
}

// Addr returns the address the gate listens on.
func (g *Gate) Addr() uds.Addr { return g.addr }

// Backend returns where the gate sends allowed peers.
func (g *Gate) Backend() Backend { return g.backend }

// Serve serves peers until ctx is cancelled or Close is called, then closes
// the listener (removing the socket file) and every open connection, and
// waits for them. It returns nil after such a stop, or the error that
// stopped it.
func (g *Gate) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	var err error
	switch {
	case g.pc != nil:
		err = g.serveDatagrams()
	case g.backend.Builtin == "" && hasEngine && !g.noEngine:
		err = g.serveEngine()
	default:
		err = g.serveStreams()
	}
	g.Close()
	g.wg.Wait()
	select {
	case <-g.closed:
		return nil
	default:
		return err
	}
}

// Close stops the gate: it closes the listener, which removes the socket
// file, and every open connection. It is safe to call more than once and
// from any goroutine.
func (g *Gate) Close() error {
	var err error
	g.closeOnce.Do(func() {
		close(g.closed)
		g.cancel()
		if g.ln != nil {
			// On Linux the engine has closed the listener's descriptor
			// already (serveEngine); the socket file is removed all the same.
			if err = g.ln.Close(); errors.Is(err, net.ErrClosed) {
				err = nil
			}
		}
		if g.pc != nil {
			err = g.pc.Close()
		}
		g.mu.Lock()
		for c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
	})
	return err
}

// track registers an open connection to be closed by Close; it reports
// false, and closes c, if the gate is already closed.
func (g *Gate) track(c io.Closer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.closed:
		c.Close()
		return false
	default:
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *Gate) untrack(c io.Closer) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// admission is one decided peer: who it is, what was decided, and the
// attributes its audit lines share.
type admission struct {
	id       uint64
	cred     *peercred.Cred
	decision policy.Decision
	start    time.Time
}

// decide asks the policy about cred and writes the audit line.
func (g *Gate) decide(cred *peercred.Cred) admission {
	a := admission{id: g.nextID.Add(1), cred: cred, decision: g.policy.Decide(cred), start: time.Now()}
	pid, _ := cred.PID()
	level := slog.LevelInfo
	if !a.decision.Allow {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(context.Background(), level, "decided",
		slog.Uint64("conn", a.id),
		slog.Int("uid", cred.UID),
		slog.String("user", peercred.UserName(cred.UID)),
		slog.Int("gid", cred.GID),
		slog.Int("pid", pid),
		slog.String("decision", a.decision.String()),
		slog.String("rule", a.decision.Rule),
	)
	return a
}

// logClosed writes the audit line of an allowed connection that ended.
// bytesIn went from the peer to the backend, bytesOut the other way.
func (g *Gate) logClosed(a admission, bytesIn, bytesOut int64, err error) {
	attrs := []slog.Attr{
		slog.Uint64("conn", a.id),
		slog.Int("uid", a.cred.UID),
		slog.Int64("bytes_in", bytesIn),
		slog.Int64("bytes_out", bytesOut),
		slog.Duration("duration", time.Since(a.start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	g.log.LogAttrs(context.Background(), slog.LevelInfo, "closed", attrs...)
}

// logFailure writes why a peer that was allowed could not be served: the
// backend is down, or its credentials could not be read.
func (g *Gate) logFailure(id uint64, msg string, err error) {
	g.log.LogAttrs(context.Background(), slog.LevelError, msg,
		slog.Uint64("conn", id),
		slog.String("backend", g.backend.String()),
		slog.String("error", err.Error()))
}

// isClosing reports whether err is the listener's error after Close.
func (g *Gate) isClosing(err error) bool {
	select {
	case <-g.closed:
		return true
	default:
		return errors.Is(err, net.ErrClosed)
	}
}
