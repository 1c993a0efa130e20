package gate

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/udsgate/udsgate/echo"
	"github.com/udsgate/udsgate/peercred"
	"github.com/udsgate/udsgate/uds"
)

// backendDialTimeout bounds how long an allowed peer waits for the backend.
const backendDialTimeout = 5 * time.Second

// serveStreams is the goroutine path: one goroutine accepts, and each
// connection gets its own.
func (g *Gate) serveStreams() error {
	var delay time.Duration
	for {
		c, err := g.ln.Accept()
		if err != nil {
			if g.isClosing(err) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of descriptors or the like: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				g.logFailure(0, "accept", err)
				select {
				case <-time.After(delay):
				case <-g.closed:
					return nil
				}
				continue
			}
			return err
		}
		delay = 0
		if !g.track(c) {
			return nil
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer g.untrack(c)
			g.serveConn(c)
		}()
	}
}

// serveConn takes one accepted connection through the gate and closes it.
func (g *Gate) serveConn(c net.Conn) {
	defer c.Close()
	cred, err := peercred.Get(c)
	if err != nil {
		g.logFailure(0, "peer credentials", err)
		return
	}
	a := g.decide(cred)
	if !a.decision.Allow {
		endWith(c, g.deny)
		return
	}
	var in, out int64
	switch g.backend.Builtin {
	case BuiltinWhoami:
		line := whoamiLine(a)
		out, err = int64(len(line)), endWith(c, line)
	case BuiltinEcho:
		cc := &countingConn{Conn: c}
		err = echo.ServeConn(g.ctx, cc)
		in, out = cc.read, cc.written
	default:
		b, derr := g.dialBackend()
		if derr != nil {
			g.logFailure(a.id, "backend unreachable", derr)
			endWith(c, nil)
			return
		}
		in, out, err = g.proxy(c, b)
	}
	g.logClosed(a, in, out, err)
}

// dialBackend connects to the backend address.
func (g *Gate) dialBackend() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), backendDialTimeout)
	defer cancel()
	return uds.DialAddr(ctx, g.backend.Addr)
}

// proxy copies both ways between the client c and the backend b until both
// directions are done, and closes b.
func (g *Gate) proxy(c, b net.Conn) (in, out int64, err error) {
	if !g.track(b) {
		return 0, 0, nil
	}
	defer g.untrack(b)
	defer b.Close()
	var wg sync.WaitGroup
	var outErr error
	wg.Go(func() { out, outErr = copyHalf(c, b) })
	in, err = copyHalf(b, c)
	wg.Wait()
	return in, out, errors.Join(err, outErr)
}

// copyHalf copies src to dst and then passes the end of src on as a
// half-close of dst. On an error it closes both, so that the other
// direction ends too.
func copyHalf(dst, src net.Conn) (int64, error) {
	n, err := io.Copy(dst, src)
	if err != nil {
		dst.Close()
		src.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		return n, err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
	return n, nil
}

// refuseDrainTime bounds how long a refused peer's pending bytes are read
// before its connection is closed.
const refuseDrainTime = 100 * time.Millisecond

// endWith writes msg (the deny message, the whoami line, or nothing) to a
// peer that gets nothing more, half-closes, and reads what the peer sends
// until it ends or refuseDrainTime passes, before closing: closing a Unix
// socket with unread data makes the peer's next read fail with ECONNRESET,
// and a peer that writes its request first should still read the message
// and a clean end. It returns the error of writing msg.
func endWith(c net.Conn, msg []byte) error {
	var err error
	if len(msg) > 0 {
		c.SetWriteDeadline(time.Now().Add(refuseDrainTime))
		_, err = c.Write(msg)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(refuseDrainTime))
	io.Copy(io.Discard, io.LimitReader(c, 1<<20)) // what the peer sent is not ours to read
	c.Close()
	return err
}

// countingConn counts the bytes of a connection served by a built-in.
type countingConn struct {
	net.Conn
	read, written int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read += int64(n)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written += int64(n)
	return n, err
}

// CloseWrite passes a half-close on when the connection has one.
func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
