package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/udsgate/udsgate/uds"
)

const (
	// connectRetryDelay is the pause before retrying a connect that the
	// server's full listen backlog refused with EAGAIN, as relay.c does.
	connectRetryDelay = time.Millisecond

	// concurrentWriteOver is the stream message size above which a round
	// trip writes from a second goroutine while reading: a large message
	// would otherwise fill both socket buffers, and an echo that cannot
	// write back stops reading, so neither side would move.
	concurrentWriteOver = 64 << 10

	// minReadBuf is the smallest read buffer of a throughput reader.
	minReadBuf = 256 << 10
)

// isMessage reports whether a network keeps message boundaries, so that one
// Write is one message and one Read one reply.
func isMessage(a uds.Addr) bool {
	return a.Net == uds.UnixPacket || a.Net == uds.UnixGram || a.Net == uds.UDP
}

func payload(size int) []byte {
	return bytes.Repeat([]byte("udsgate!"), size/8+1)[:size]
}

// exchanger does round trips of one message on a connection.
type exchanger struct {
	message bool
	out, in []byte // in has one byte more than out, to catch a longer reply
}

func newExchanger(a uds.Addr, size int) *exchanger {
	return &exchanger{message: isMessage(a), out: payload(size), in: make([]byte, size+1)}
}

func (x *exchanger) roundTrip(c net.Conn) error {
	if x.message {
		if _, err := c.Write(x.out); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		n, err := c.Read(x.in)
		if err != nil {
			return replyError(err)
		}
		if n != len(x.out) {
			return fmt.Errorf("reply of %d bytes to a message of %d bytes: not an echo", n, len(x.out))
		}
		return nil
	}
	if len(x.out) <= concurrentWriteOver {
		if _, err := c.Write(x.out); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if _, err := io.ReadFull(c, x.in[:len(x.out)]); err != nil {
			return replyError(err)
		}
		return nil
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(x.out)
		werr <- err
	}()
	_, rerr := io.ReadFull(c, x.in[:len(x.out)])
	if rerr != nil {
		// Unblock the writer, which may be stuck on a full buffer; the
		// connection is failed anyway.
		_ = c.SetDeadline(time.Unix(1, 0))
	}
	if err := <-werr; err != nil && rerr == nil {
		return fmt.Errorf("send: %w", err)
	}
	if rerr != nil {
		return replyError(rerr)
	}
	return nil
}

func replyError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read reply: the server closed the connection: %w", err)
	}
	return fmt.Errorf("read reply: %w", err)
}

// latencyWorker does round trips on c until the end of the round.
func (r *round) latencyWorker(s *slot, c net.Conn) error {
	defer c.Close()
	b := batch{rec: r.rec}
	defer b.flush()
	x := newExchanger(r.addr, r.cfg.Size)
	for !r.stop.Load() {
		t0 := r.begin(s)
		err := x.roundTrip(c)
		t1 := time.Now()
		s.busy.Store(0)
		if err != nil {
			return err
		}
		if t0.Before(r.start) {
			continue // warm-up
		}
		b.add(t1.Sub(t0))
		s.ops.Add(1)
		s.last = t1
		if !t1.Before(r.end) {
			return nil
		}
	}
	return nil
}

// connectWorker connects, does a round trip if the size asks for one, and
// closes, until the end of the round.
func (r *round) connectWorker(s *slot) error {
	b := batch{rec: r.rec}
	defer b.flush()
	var x *exchanger
	if r.cfg.Size > 0 {
		x = newExchanger(r.addr, r.cfg.Size)
	}
	for !r.stop.Load() {
		t0 := r.begin(s)
		warm := t0.Before(r.start)
		err := r.connectOnce(s, x, !warm)
		t1 := time.Now()
		s.busy.Store(0)
		if err != nil {
			return err
		}
		if warm {
			continue
		}
		b.add(t1.Sub(t0))
		s.ops.Add(1)
		s.last = t1
		if !t1.Before(r.end) {
			return nil
		}
	}
	return nil
}

// connectOnce does one connection; count says whether its connect retries
// count (they do not in the warm-up).
func (r *round) connectOnce(s *slot, x *exchanger, count bool) (err error) {
	var c net.Conn
	for {
		c, err = uds.DialAddr(r.ctx, r.addr)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EAGAIN) || r.stop.Load() {
			return fmt.Errorf("connect: %w", err)
		}
		if count {
			s.retries.Add(1)
		}
		time.Sleep(connectRetryDelay)
	}
	if x != nil {
		if !s.setConn(c) {
			c.Close()
			return nil // aborted; the round has its reason
		}
		err = x.roundTrip(c)
		s.clearConn()
	}
	if cerr := c.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return err
}

// throughputWorker writes chunks on c until the end of the round (quota 0)
// or until it has written quota bytes, while a second goroutine reads and
// drops whatever comes back.
func (r *round) throughputWorker(s *slot, c net.Conn, quota int64) error {
	defer c.Close()
	var (
		halfClosed = make(chan struct{}) // closed when the client is done writing
		readDone   = make(chan error, 1)
	)
	go func() {
		buf := make([]byte, max(r.cfg.Size+1, minReadBuf))
		for {
			n, err := c.Read(buf)
			s.bytesRead.Add(int64(n))
			if err == nil {
				continue
			}
			select {
			case <-halfClosed:
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					err = nil
				}
			default:
				if errors.Is(err, io.EOF) {
					err = errors.New("the server closed the connection before the client was done writing")
				}
			}
			if err != nil {
				err = fmt.Errorf("read: %w", err)
			}
			readDone <- err
			return
		}
	}()

	chunk := payload(r.cfg.Size)
	var written int64
	var werr error
	for !r.stop.Load() {
		p := chunk
		if quota > 0 {
			left := quota - written
			if left <= 0 {
				break
			}
			if left < int64(len(p)) {
				p = p[:left]
			}
		}
		t0 := r.begin(s)
		if quota == 0 && !t0.Before(r.end) {
			s.busy.Store(0)
			break
		}
		n, err := c.Write(p)
		s.busy.Store(0)
		written += int64(n)
		s.bytes.Add(int64(n))
		if err != nil {
			werr = fmt.Errorf("write: %w", err)
			break
		}
		s.ops.Add(1)
	}
	if werr != nil || r.stop.Load() {
		close(halfClosed)
		c.Close()
		<-readDone
		return werr
	}

	if r.addr.IsDatagram() {
		// A datagram has no end of stream: the clock stops at the last
		// write, and closing the socket ends the reader.
		s.last = time.Now()
		close(halfClosed)
		c.Close()
		return <-readDone
	}
	// The server's close after the half-close says it has taken every byte.
	s.phase.Store(phaseDrain)
	r.begin(s)
	close(halfClosed)
	var err error
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		err = cw.CloseWrite()
	} else {
		err = errors.New("the connection cannot half-close")
	}
	if err != nil {
		c.Close()
		<-readDone
		s.busy.Store(0)
		return fmt.Errorf("half-close: %w", err)
	}
	err = <-readDone
	s.last = time.Now()
	s.busy.Store(0)
	return err
}
