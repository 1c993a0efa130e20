// Package netcat joins a terminal's standard streams to a connected socket,
// as netcat does, for each kind of socket: Stream for byte streams (unix,
// tcp), Messages for message sockets (unixpacket, unixgram, udp), where
// each line of input is one message.
//
// Both run until the server is done with the session: for a connection (a
// stream or unixpacket) they half-close it at the end of the input and
// print what arrives until the server closes its side; for datagrams, which
// have no end, until no message has arrived for a quiet time after the end
// of the input. They stop early, returning the context's error, when the
// context is cancelled.
//
// The caller owns conn and closes it after they return. They may set
// deadlines on conn, and a read deadline on stdin to stop a pending read of
// it (see Stream). They never close stdin or stdout.
package netcat

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// maxMessage is the size of the receive buffer of Messages: a longer
// message is truncated by the kernel, and the rest of it is lost.
const maxMessage = 64 << 10

// aLongTimeAgo is a deadline in the past: it wakes blocked reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// closeWriter is a connection that can shut down its sending side alone, as
// *net.UnixConn and *net.TCPConn can.
type closeWriter interface{ CloseWrite() error }

// deadlineReader is an input whose pending Read can be stopped, such as an
// *os.File in non-blocking mode (a pipe from os.Pipe) or a net.Conn.
type deadlineReader interface{ SetReadDeadline(time.Time) error }

// Stream copies stdin to conn and conn to stdout at once. At the end of
// stdin it half-closes conn (if conn has CloseWrite, as Unix and TCP
// connections do) and goes on copying to stdout until the server closes
// its side, then returns nil.
//
// If the server closes first, Stream returns without waiting for the end of
// stdin. A Read of stdin that is then still pending is stopped with a read
// deadline if stdin has SetReadDeadline and it works; if not (a terminal, or
// a pipe in blocking mode, as a process's standard input usually is), that
// Read cannot be stopped: Stream returns anyway, and what the Read returns is
// discarded. A process that exits after Stream, as udsgate dial does, loses
// nothing by it.
//
// Errors name the direction: "send" for stdin to conn, "receive" for conn to
// stdout. Data that could not be sent is an error even if the server then
// closed cleanly.
func Stream(ctx context.Context, conn net.Conn, stdin io.Reader, stdout io.Writer) error {
	send := func() error {
		if _, err := io.Copy(conn, stdin); err != nil {
			return err
		}
		if cw, ok := conn.(closeWriter); ok {
			return cw.CloseWrite()
		}
		return nil // nothing to tell the server; it decides when to close
	}
	receive := func() error {
		_, err := io.Copy(stdout, conn)
		return err
	}
	return run(ctx, conn, stdin, send, receive, false)
}

// Messages sends each line of stdin, its newline included, to conn as one
// message (a last line without a newline is sent as it is), and writes each
// message that arrives to stdout as it is, with nothing added. A message
// longer than 64 KiB is truncated to 64 KiB on receipt.
//
// What happens at the end of stdin depends on conn. A connection
// (unixpacket) is half-closed, and Messages prints until the server closes
// its side. A datagram socket (unixgram, udp) cannot tell the server that
// the input ended, so Messages prints until no message has arrived for
// wait, counted from the end of stdin and from each message after it; with
// wait zero it returns at the end of stdin. A connection that cannot be
// half-closed is treated as a datagram socket.
//
// A datagram socket gets no end from the server, so a failure to send ends
// Messages at once; for a connection, as in Stream, Messages still prints
// until the server closes. A pending Read of stdin is handled as in Stream.
func Messages(ctx context.Context, conn net.Conn, stdin io.Reader, stdout io.Writer, wait time.Duration) error {
	var quiet atomic.Bool // the input ended: count the quiet time
	quietDeadline := func() {
		conn.SetReadDeadline(time.Now().Add(wait))
		if ctx.Err() != nil {
			// Cancelled while we set it: do not undo the wake-up.
			conn.SetReadDeadline(aLongTimeAgo)
		}
	}
	cw, isConnection := halfCloser(conn)

	send := func() error {
		in := bufio.NewReader(stdin)
		for {
			line, err := in.ReadBytes('\n')
			if len(line) > 0 {
				if _, werr := conn.Write(line); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read input: %w", err)
			}
		}
		if isConnection && cw.CloseWrite() == nil {
			return nil
		}
		// A datagram socket, or a connection that cannot be half-closed
		// after all: fall back to the quiet time.
		quiet.Store(true)
		quietDeadline()
		return nil
	}
	receive := func() error {
		buf := make([]byte, maxMessage)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if _, werr := stdout.Write(buf[:n]); werr != nil {
					return fmt.Errorf("write output: %w", werr)
				}
			}
			switch {
			case errors.Is(err, io.EOF):
				return nil // the server closed its side
			case err == nil:
				if quiet.Load() {
					quietDeadline()
				}
			case quiet.Load() && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
				return nil // quiet for wait after the end of the input
			default:
				return err
			}
		}
	}
	return run(ctx, conn, stdin, send, receive, !isConnection)
}

// halfCloser returns conn's CloseWrite if conn is a connection, whose server
// reads the half-close as the end of the input: not a datagram socket, on
// which shutdown(2) tells the server nothing.
func halfCloser(conn net.Conn) (closeWriter, bool) {
	cw, ok := conn.(closeWriter)
	if !ok {
		return nil, false
	}
	for _, a := range []net.Addr{conn.RemoteAddr(), conn.LocalAddr()} {
		if a == nil {
			continue
		}
		switch a.Network() {
		case "unixgram", "udp", "udp4", "udp6":
			return nil, false
		}
	}
	return cw, true
}

// run runs send in a goroutine and receive in this one, and ends the session
// when receive ends: the server closed, the quiet time passed, receive
// failed, ctx was cancelled, or (with sendEndsAll) send failed.
func run(ctx context.Context, conn net.Conn, stdin io.Reader, send, receive func() error, sendEndsAll bool) error {
	// A deadline in the past wakes both directions when ctx ends.
	woken := make(chan struct{})
	stopWake := context.AfterFunc(ctx, func() {
		defer close(woken)
		conn.SetDeadline(aLongTimeAgo)
	})
	defer func() {
		if !stopWake() {
			<-woken
		}
	}()

	var sendAborted atomic.Bool
	sent := make(chan error, 1) // buffered: a sender we do not wait for never blocks
	go func() {
		err := send()
		sent <- err // before the wake-up below, so that run finds it
		if err != nil && sendEndsAll {
			sendAborted.Store(true)
			conn.SetReadDeadline(aLongTimeAgo)
		}
	}()

	recvErr := receive()
	// The session is over: stop the sender, on conn and on stdin if we can.
	conn.SetWriteDeadline(aLongTimeAgo)
	var sendErr error
	if d, ok := stdin.(deadlineReader); ok && d.SetReadDeadline(aLongTimeAgo) == nil {
		sendErr = <-sent
	} else {
		select {
		case sendErr = <-sent:
		default:
			// Blocked in a Read of stdin that nothing can stop; see Stream.
		}
	}

	if ctx.Err() != nil {
		return ctx.Err()
	}
	if sendAborted.Load() {
		return fmt.Errorf("send: %w", sendErr)
	}
	if errors.Is(sendErr, os.ErrDeadlineExceeded) {
		sendErr = nil // stopped by us above: the session was over
	}
	var errs []error
	if recvErr != nil {
		errs = append(errs, fmt.Errorf("receive: %w", recvErr))
	}
	if sendErr != nil {
		errs = append(errs, fmt.Errorf("send: %w", sendErr))
	}
	return errors.Join(errs...)
}
