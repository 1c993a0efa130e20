package echo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/udsgate/udsgate/echo"
	"github.com/udsgate/udsgate/uds"
)

// TestMain checks that no test leaves a goroutine behind: every server,
// connection and context callback is owned and waited for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sockDir returns a directory for socket files whose paths stay well under
// the kernel's 107-byte limit.
func sockDir(tb testing.TB) string {
	tb.Helper()
	if dir := tb.TempDir(); len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("", "ug")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// server is an echo server running in a goroutine of the test.
type server struct {
	addr string // address to dial, e.g. "unix:/tmp/x/e.sock", "tcp:127.0.0.1:4711"
	path string // the socket file, "" for tcp and udp
	stop func() error
}

// startServer listens on address and serves it with Serve or ServePacket
// until stop, which the test's cleanup also calls. stop returns what the
// server returned.
func startServer(tb testing.TB, address string) *server {
	tb.Helper()
	a, err := uds.ParseAddr(address)
	if errors.Is(err, uds.ErrUnsupported) {
		tb.Skipf("%s: %v", address, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var actual net.Addr
	if a.IsDatagram() {
		pc, err := uds.ListenPacket(ctx, address)
		if err != nil {
			cancel()
			tb.Fatal(err)
		}
		actual = pc.LocalAddr()
		go func() { done <- echo.ServePacket(ctx, pc) }()
	} else {
		ln, err := uds.Listen(ctx, address)
		if err != nil {
			cancel()
			tb.Fatal(err)
		}
		actual = ln.Addr()
		go func() { done <- echo.Serve(ctx, ln) }()
	}
	s := &server{addr: a.String(), path: a.Path()}
	if !a.IsUnix() {
		s.addr = a.Net + ":" + actual.String() // the port the kernel chose
	}
	var once sync.Once
	var serveErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("server returned %v", err)
		}
	})
	return s
}

// dial connects to the server and closes the connection at cleanup.
func dial(tb testing.TB, address string) net.Conn {
	tb.Helper()
	c, err := uds.Dial(context.Background(), address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// write writes each message with its own Write call.
func write(tb testing.TB, c net.Conn, msgs ...string) {
	tb.Helper()
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			tb.Fatal(err)
		}
	}
}

// read does one Read of at most size bytes, with a deadline so that a
// broken server fails the test instead of hanging it.
func read(tb testing.TB, c net.Conn, size int) string {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, size)
	n, err := c.Read(buf)
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

// TestEchoServerUnix shows that a stream has no message boundaries: three
// "ping" writes come back in one read as "pingpingping". The read starts
// only when all twelve bytes are queued on the client's socket, so the
// result does not depend on how the server's reads and writes interleave.
func TestEchoServerUnix(t *testing.T) {
	s := startServer(t, "unix:"+filepath.Join(sockDir(t), "e.sock"))
	c := dial(t, s.addr)
	write(t, c, "ping", "ping", "ping")
	waitQueued(t, c, 12)
	if got := read(t, c, 1024); got != "pingpingping" {
		t.Fatalf("one read returned %q, want %q", got, "pingpingping")
	}
}

// TestEchoServerUnixPacket shows that a seqpacket socket keeps message
// boundaries: with three pings queued, each read returns one "ping".
func TestEchoServerUnixPacket(t *testing.T) {
	s := startServer(t, "unixpacket:"+filepath.Join(sockDir(t), "p.sock"))
	c := dial(t, s.addr)
	write(t, c, "ping", "ping", "ping")
	waitQueued(t, c, 12)
	for i := range 3 {
		if got := read(t, c, 1024); got != "ping" {
			t.Fatalf("read %d returned %q, want %q", i+1, got, "ping")
		}
	}
}

// TestEchoServerUnixPacketDiscardsUnread shows that a seqpacket read
// discards what it did not ask for: reading 2 bytes of "ping" returns "pi",
// and the next read starts with the next message, not with "ng".
func TestEchoServerUnixPacketDiscardsUnread(t *testing.T) {
	s := startServer(t, "unixpacket:"+filepath.Join(sockDir(t), "p.sock"))
	c := dial(t, s.addr)
	write(t, c, "ping", "pong")
	waitQueued(t, c, 8)
	if got := read(t, c, 2); got != "pi" {
		t.Fatalf("2-byte read of %q returned %q, want %q", "ping", got, "pi")
	}
	if got := read(t, c, 2); got != "po" {
		t.Fatalf("next 2-byte read returned %q, want %q: the rest of %q must be discarded", got, "po", "ping")
	}
}

// TestEchoServerUnixDatagram shows the datagram server replying to each
// sender's address: a client bound to its own socket file sends three pings
// and receives three replies, each from the server's address.
func TestEchoServerUnixDatagram(t *testing.T) {
	dir := sockDir(t)
	s := startServer(t, "unixgram:"+filepath.Join(dir, "s.sock"))
	client, err := uds.ListenPacket(context.Background(), "unixgram:"+filepath.Join(dir, "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	serverAddr := &net.UnixAddr{Name: s.path, Net: "unixgram"}
	for range 3 {
		if _, err := client.WriteTo([]byte("ping"), serverAddr); err != nil {
			t.Fatal(err)
		}
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1024)
	for i := range 3 {
		n, from, err := client.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
		if got := string(buf[:n]); got != "ping" {
			t.Errorf("reply %d is %q, want %q", i+1, got, "ping")
		}
		if from == nil || from.String() != s.path {
			t.Errorf("reply %d came from %v, want the server's address %s", i+1, from, s.path)
		}
	}
}

// TestEchoServerUnixDatagramSkipsUnboundSender shows that a sender with no
// address of its own gets no reply and does not stop the server: a bound
// client that sends after it still gets its reply.
func TestEchoServerUnixDatagramSkipsUnboundSender(t *testing.T) {
	dir := sockDir(t)
	s := startServer(t, "unixgram:"+filepath.Join(dir, "s.sock"))
	// net.DialUnix without a local address and without SO_PASSCRED does not
	// autobind (unix(7)): the server sees a sender without a name.
	unbound, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer unbound.Close()
	write(t, unbound, "lost")

	bound := dial(t, s.addr)
	write(t, bound, "ping")
	if got := read(t, bound, 1024); got != "ping" {
		t.Fatalf("bound client got %q, want %q", got, "ping")
	}
}

// TestEchoServerTCP and TestEchoServerUDP show that the same servers serve
// network sockets, as the chapter says net.Conn allows.
func TestEchoServerTCP(t *testing.T) {
	s := startServer(t, "tcp:127.0.0.1:0")
	c := dial(t, s.addr)
	write(t, c, "ping")
	var got [4]byte
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got[:]); err != nil || string(got[:]) != "ping" {
		t.Fatalf("got %q, %v; want %q", got, err, "ping")
	}
}

func TestEchoServerUDP(t *testing.T) {
	s := startServer(t, "udp:127.0.0.1:0")
	c := dial(t, s.addr)
	for range 3 {
		write(t, c, "ping")
		if got := read(t, c, 1024); got != "ping" {
			t.Fatalf("got %q, want %q", got, "ping")
		}
	}
}

// TestEchoServerHalfClose shows that the stream servers echo everything and
// then pass the client's half-close on: the client writes a megabyte while
// reading, shuts down its write side, and reads the same megabyte followed
// by EOF.
func TestEchoServerHalfClose(t *testing.T) {
	for _, network := range []string{"unix", "unixpacket", "tcp"} {
		t.Run(network, func(t *testing.T) {
			address := network + ":" + filepath.Join(sockDir(t), "e.sock")
			if network == "tcp" {
				address = "tcp:127.0.0.1:0"
			}
			s := startServer(t, address)
			c := dial(t, s.addr)
			c.SetDeadline(time.Now().Add(30 * time.Second))

			var want bytes.Buffer
			for i := range 256 {
				want.Write(bytes.Repeat([]byte{byte(i)}, 4096))
			}
			writeErr := make(chan error, 1)
			go func() {
				// 4 KiB messages, so that unixpacket keeps them whole.
				data := want.Bytes()
				for len(data) > 0 {
					if _, err := c.Write(data[:4096]); err != nil {
						writeErr <- err
						return
					}
					data = data[4096:]
				}
				writeErr <- c.(interface{ CloseWrite() error }).CloseWrite()
			}()
			// Not io.ReadAll: a read into less room than a whole message
			// would truncate it on unixpacket.
			var got []byte
			buf := make([]byte, echo.MaxMessage)
			for {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read: %v", err)
				}
			}
			if err := <-writeErr; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("echoed %d bytes, want the %d written", len(got), want.Len())
			}
		})
	}
}

// TestEchoServerStopsOnCancel shows that cancelling the context stops each
// server: Serve and ServePacket return nil, connections still open are
// closed (the client reads EOF), and the socket file is gone, for unixgram
// too.
func TestEchoServerStopsOnCancel(t *testing.T) {
	for _, network := range []string{"unix", "unixpacket", "unixgram", "tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			address := network + ":" + filepath.Join(sockDir(t), "e.sock")
			switch network {
			case "tcp", "udp":
				address = network + ":127.0.0.1:0"
			}
			s := startServer(t, address)
			c := dial(t, s.addr)
			write(t, c, "ping")
			if got := read(t, c, 1024); got != "ping" {
				t.Fatalf("got %q before the stop, want %q", got, "ping")
			}
			if err := s.stop(); err != nil {
				t.Fatalf("server returned %v after cancel, want nil", err)
			}
			if s.path != "" {
				if _, err := os.Lstat(s.path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("socket file after stop: %v, want it removed", err)
				}
			}
			if network == "unix" || network == "unixpacket" || network == "tcp" {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := c.Read(make([]byte, 16)); err != io.EOF {
					t.Errorf("client read after stop = %d, %v; want EOF", n, err)
				}
			}
		})
	}
}

// TestServeConnAnyConn shows that ServeConn needs nothing but net.Conn: over
// net.Pipe, which has no CloseWrite, it echoes, and it returns nil and
// closes the conn when its context is cancelled.
func TestServeConnAnyConn(t *testing.T) {
	client, srv := net.Pipe()
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- echo.ServeConn(ctx, srv) }()

	write(t, client, "ping")
	if got := read(t, client, 1024); got != "ping" {
		t.Fatalf("got %q, want %q", got, "ping")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeConn returned %v after cancel, want nil", err)
	}
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after cancel: %v, want EOF (ServeConn closes its conn)", err)
	}
}

// TestServeConnPeerCloses shows that ServeConn returns nil when the peer
// closes, which is how an echo session normally ends.
func TestServeConnPeerCloses(t *testing.T) {
	client, srv := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- echo.ServeConn(context.Background(), srv) }()
	client.Close()
	if err := <-done; err != nil {
		t.Fatalf("ServeConn returned %v after the peer closed, want nil", err)
	}
}

// fakeListener hands out the results in its queue, then blocks until Close.
type fakeListener struct {
	results chan acceptResult
	closed  chan struct{}
	once    sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func (l *fakeListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.results:
		return r.c, r.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *fakeListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() { close(l.closed); err = nil })
	return err
}

func (l *fakeListener) Addr() net.Addr { return &net.UnixAddr{Name: "fake", Net: "unix"} }

// temporaryError is an Accept error such as EMFILE: worth retrying.
type temporaryError struct{}

func (temporaryError) Error() string   { return "too many open files" }
func (temporaryError) Temporary() bool { return true }
func (temporaryError) Timeout() bool   { return false }

// TestServeRetriesTemporaryAcceptError shows that Serve keeps serving after
// a transient Accept error, and returns the error that ends Accept for good
// after closing the listener.
func TestServeRetriesTemporaryAcceptError(t *testing.T) {
	client, srv := net.Pipe()
	defer client.Close()
	hard := errors.New("listener broke")
	ln := &fakeListener{results: make(chan acceptResult, 3), closed: make(chan struct{})}
	ln.results <- acceptResult{err: temporaryError{}}
	ln.results <- acceptResult{c: srv}
	done := make(chan error, 1)
	go func() { done <- echo.Serve(context.Background(), ln) }()

	write(t, client, "ping")
	if got := read(t, client, 1024); got != "ping" {
		t.Fatalf("got %q after a transient Accept error, want %q", got, "ping")
	}
	ln.results <- acceptResult{err: hard}
	if err := <-done; !errors.Is(err, hard) {
		t.Fatalf("Serve returned %v, want the Accept error %v", err, hard)
	}
	select {
	case <-ln.closed:
	default:
		t.Error("Serve returned without closing its listener")
	}
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("open connection after Serve returned: read %v, want EOF", err)
	}
}
