package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udsgate/udsgate/uds"
)

// testServer is a small server for the tests: an echo (with an optional
// delay before each reply) or a sink, that counts what it gets.
type testServer struct {
	addr     string
	accepts  atomic.Int64 // connections accepted
	messages atomic.Int64 // reads (one per message on message sockets)
	bytes    atomic.Int64 // bytes received

	done  chan struct{} // closed when the server stops
	trace *trace        // if set, every message is noted there

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closer io.Closer
	wg     sync.WaitGroup
}

type serverKind int

const (
	echoServer serverKind = iota
	sinkServer
	silentServer // accepts, never reads or replies
	closeServer  // closes each connection at once
	holdServer   // a sink that keeps the connection open after the client's EOF
)

// sockDir returns a short private directory for socket paths: t.TempDir()
// may be over the kernel's 107-byte limit.
func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ugb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServer starts a server of the given kind on network ("unix",
// "unixpacket", "unixgram"). delay, if set, is the pause before the reply to
// the i-th message (from 0). The server stops when the test ends.
func startServer(t *testing.T, network string, kind serverKind, delay func(i int64) time.Duration) *testServer {
	t.Helper()
	return startTracedServer(t, network, kind, delay, nil)
}

// trace is the order in which messages reached a set of servers, with
// repeats of the same server folded into one entry.
type trace struct {
	mu    sync.Mutex
	addrs []string
}

func (tr *trace) note(addr string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.addrs); n == 0 || tr.addrs[n-1] != addr {
		tr.addrs = append(tr.addrs, addr)
	}
}

func (tr *trace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return fmt.Sprint(tr.addrs)
}

// startTracedServer is startServer noting each message in tr.
func startTracedServer(t *testing.T, network string, kind serverKind, delay func(i int64) time.Duration, tr *trace) *testServer {
	t.Helper()
	ctx := context.Background()
	s := &testServer{addr: network + ":" + filepath.Join(sockDir(t), "s.sock"), conns: map[net.Conn]bool{}, done: make(chan struct{}), trace: tr}
	if network == uds.UnixGram {
		pc, err := uds.ListenPacket(ctx, s.addr)
		if err != nil {
			t.Fatal(err)
		}
		s.closer = pc
		s.wg.Go(func() { s.serveDatagrams(pc, kind, delay) })
	} else {
		l, err := uds.Listen(ctx, s.addr)
		if err != nil {
			t.Fatal(err)
		}
		s.closer = l
		s.wg.Go(func() { s.accept(l, kind, delay) })
	}
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) stop() {
	close(s.done)
	s.closer.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) accept(l net.Listener, kind serverKind, delay func(int64) time.Duration) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		if s.conns == nil { // stopping
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(c, kind, delay)
		})
	}
}

func (s *testServer) serveConn(c net.Conn, kind serverKind, delay func(int64) time.Duration) {
	switch kind {
	case closeServer:
		return
	case silentServer:
		<-s.done
		return
	}
	buf := make([]byte, 1<<20)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			s.noteMessage()
			i := s.messages.Add(1) - 1
			s.bytes.Add(int64(n))
			if delay != nil {
				time.Sleep(delay(i))
			}
			if kind == echoServer {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}
		if err != nil {
			if kind == holdServer {
				<-s.done
			}
			// At EOF the client has half-closed: everything it sent has
			// been answered, and closing tells it so.
			return
		}
	}
}

func (s *testServer) serveDatagrams(pc *uds.PacketConn, kind serverKind, delay func(int64) time.Duration) {
	buf := make([]byte, 1<<20)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.noteMessage()
		i := s.messages.Add(1) - 1
		s.bytes.Add(int64(n))
		if delay != nil {
			time.Sleep(delay(i))
		}
		if kind == echoServer {
			// A client that has gone away refuses the reply; that is its
			// business.
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}
}

func (s *testServer) noteMessage() {
	if s.trace != nil {
		s.trace.note(s.addr)
	}
}

// waitFor waits until cond holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
