// Package echo holds the chapter's echo servers as a library: Serve for
// stream and seqpacket listeners (unix, unixpacket, tcp), ServeConn for one
// such connection, and ServePacket for datagram sockets (unixgram, udp).
//
// Each server takes ownership of what it is given: Serve closes its listener
// and every connection it accepted, ServeConn closes its connection, and
// ServePacket closes its socket, all before they return. Closing a
// *uds.Listener or *uds.PacketConn removes its socket file, so a server
// stopped by its context leaves no file behind. The servers stop when their
// context is cancelled, start no goroutine that outlives them, and return
// nil when stopped that way.
//
// Messages keep their boundaries where the socket type has them: on
// unixpacket and datagram sockets every read is one message and is written
// back as one message. A message longer than MaxMessage bytes is truncated
// by the kernel to MaxMessage bytes; the rest of it is discarded.
package echo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxMessage is the size of the read buffer of each connection or datagram
// socket, and so the longest message echoed whole on unixpacket, unixgram
// and udp. On streams it only bounds how much one read takes.
const MaxMessage = 64 << 10

// replyTimeout bounds how long ServePacket waits to queue one reply. A Unix
// datagram send blocks while the receiver's queue is full (unix(7),
// net.unix.max_dgram_qlen), so one client that sends without reading would
// otherwise stall the server for everyone; its reply is dropped instead, as
// UDP would drop it.
const replyTimeout = 100 * time.Millisecond

// aLongTimeAgo is a deadline in the past: it wakes blocked reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// Serve accepts connections on ln and echoes each one, as ServeConn does, in
// a goroutine of its own, until ctx is cancelled or Accept fails for good.
// Transient Accept errors (too many open files) are retried with a backoff.
//
// Serve owns ln: it closes it before returning, whatever the reason (for a
// *uds.Listener that removes the socket file), and it closes every accepted
// connection and waits for its goroutine. It returns nil when stopped by
// ctx; otherwise the error of Accept. An error in closing ln (such as a
// socket file that could not be removed) is returned as well. Errors of
// single connections (a client that resets) are not the server's and are
// not returned.
func Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Closing ln is what wakes Accept when ctx is done; the same function
	// closes it when Accept fails, so ln is closed exactly once.
	var closeErr error
	closed := make(chan struct{})
	context.AfterFunc(ctx, func() {
		defer close(closed)
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			closeErr = fmt.Errorf("echo: close listener: %w", err)
		}
	})

	var (
		wg        sync.WaitGroup
		acceptErr error
		backoff   time.Duration
	)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && isTemporary(err) {
				backoff = nextBackoff(backoff)
				if sleep(ctx, backoff) {
					continue
				}
			}
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("echo: accept: %w", err)
			}
			break
		}
		backoff = 0
		wg.Go(func() {
			// Not the server's error: the client went away or ctx ended it.
			_ = ServeConn(ctx, c)
		})
	}
	cancel() // stops every connection and closes ln
	<-closed
	wg.Wait()
	return errors.Join(acceptErr, closeErr)
}

// ServeConn echoes what it reads from c back to c until the peer ends the
// connection or ctx is cancelled. It works for any net.Conn; on a seqpacket
// connection each read is one message (up to MaxMessage bytes) and is
// written back as one message.
//
// When the peer half-closes (a read returns io.EOF), ServeConn has written
// back everything it read; it then half-closes its side too if c has a
// CloseWrite method (as *net.UnixConn and *net.TCPConn have), so the peer
// reads to the end. A zero-length unixpacket message reads as io.EOF too
// (recv(2) returns 0 for both), so it ends the connection the same way.
//
// ServeConn owns c and closes it before returning. It returns nil when the
// peer ended the connection or ctx was cancelled, and otherwise the I/O
// error that ended it.
func ServeConn(ctx context.Context, c net.Conn) (err error) {
	// A deadline in the past wakes a blocked Read or Write when ctx ends;
	// should c not support deadlines, closing it does the same.
	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		if c.SetDeadline(aLongTimeAgo) != nil {
			c.Close()
		}
	})
	defer func() {
		if !stop() {
			<-stopped // own the AfterFunc goroutine: wait for it
		}
		if cerr := c.Close(); cerr != nil && err == nil && ctx.Err() == nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("echo: close: %w", cerr)
		}
	}()

	fail := func(op string, err error) error {
		if ctx.Err() != nil {
			return nil // woken by our own deadline: stopped by ctx
		}
		return fmt.Errorf("echo: %s: %w", op, err)
	}
	buf := make([]byte, MaxMessage)
	for {
		n, rerr := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return fail("write", werr)
			}
		}
		switch {
		case errors.Is(rerr, io.EOF):
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				if err := cw.CloseWrite(); err != nil {
					return fail("half-close", err)
				}
			}
			return nil
		case rerr != nil:
			return fail("read", rerr)
		}
	}
}

// ServePacket answers each datagram that arrives on pc with the same bytes,
// sent to the sender's address, until ctx is cancelled or a read fails.
// Each datagram is read whole up to MaxMessage bytes; the kernel discards
// the rest of a longer one.
//
// A sender without an address cannot be answered and is skipped: a unixgram
// client that never bound a name (on Linux, uds.Dial autobinds one). A reply
// that cannot be sent (the sender is gone, or has not read its replies for a
// while so that its queue stays full) is dropped; the server goes on.
//
// ServePacket owns pc and closes it before returning (for a
// *uds.PacketConn that removes the socket file). It returns nil when stopped
// by ctx, otherwise the error of the read, joined with any error of Close.
func ServePacket(ctx context.Context, pc net.PacketConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closeErr error
	closed := make(chan struct{})
	context.AfterFunc(ctx, func() {
		defer close(closed)
		if err := pc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			closeErr = fmt.Errorf("echo: close: %w", err)
		}
	})

	var (
		readErr  error
		deadline time.Time
	)
	buf := make([]byte, MaxMessage)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				readErr = fmt.Errorf("echo: read: %w", err)
			}
			break
		}
		if from == nil || from.String() == "" {
			continue // an unbound sender: there is nowhere to reply
		}
		// Refresh the write deadline only when half of it is used up,
		// rather than for every reply: setting it costs a timer update.
		if now := time.Now(); deadline.Sub(now) < replyTimeout/2 {
			deadline = now.Add(replyTimeout)
			if err := pc.SetWriteDeadline(deadline); err != nil {
				deadline = time.Time{} // no deadlines here: replies may block
			}
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil && errors.Is(err, net.ErrClosed) {
			break // pc was closed under us; the read would fail next
		}
		// Any other write error concerns this one sender: drop the reply.
	}
	cancel()
	<-closed
	return errors.Join(readErr, closeErr)
}

// isTemporary reports an Accept error worth retrying, such as EMFILE. It asks
// the error itself, as net/http's Server does; the method is deprecated on
// net.Error for timeouts, not for these.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// nextBackoff doubles the wait after a transient Accept error, from 5ms up
// to one second.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

// sleep waits for d and reports true, or reports false as soon as ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
