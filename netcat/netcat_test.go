package netcat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/udsgate/udsgate/echo"
	"github.com/udsgate/udsgate/netcat"
	"github.com/udsgate/udsgate/uds"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sockDir returns a directory for socket files whose paths stay well under
// the kernel's 107-byte limit.
func sockDir(t *testing.T) string {
	t.Helper()
	if dir := t.TempDir(); len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("", "ug")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startEcho runs the echo server of package echo on address until the test
// ends and returns the address to dial.
func startEcho(t *testing.T, address string) string {
	t.Helper()
	a := uds.MustParseAddr(address)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if a.IsDatagram() {
		pc, err := uds.ListenPacket(ctx, address)
		if err != nil {
			t.Fatal(err)
		}
		if !a.IsUnix() {
			address = a.Net + ":" + pc.LocalAddr().String()
		}
		go func() { done <- echo.ServePacket(ctx, pc) }()
	} else {
		ln, err := uds.Listen(ctx, address)
		if err != nil {
			t.Fatal(err)
		}
		if !a.IsUnix() {
			address = a.Net + ":" + ln.Addr().String()
		}
		go func() { done <- echo.Serve(ctx, ln) }()
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("echo server: %v", err)
		}
	})
	return address
}

// startServer listens on a stream or seqpacket address and runs handle on
// each connection until the test ends; it returns the address to dial.
func startServer(t *testing.T, address string, handle func(net.Conn)) string {
	t.Helper()
	ln, err := uds.Listen(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return address
}

func dial(t *testing.T, address string) net.Conn {
	t.Helper()
	c, err := uds.Dial(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runWithin runs f and fails the test if it has not returned after a
// generous time, so that a hang shows as a failure with a message.
func runWithin(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still running after 30s")
		return nil
	}
}

// TestStreamEchoesUntilServerCloses shows the stream netcat: all of stdin
// reaches the server, the half-close at its end makes the echo server
// close, and everything echoed reaches stdout. A megabyte shows that both
// directions run at once (one after the other would deadlock on full
// buffers).
func TestStreamEchoesUntilServerCloses(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			address := "unix:" + filepath.Join(sockDir(t), "e.sock")
			if network == "tcp" {
				address = "tcp:127.0.0.1:0"
			}
			c := dial(t, startEcho(t, address))
			in := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
			var out bytes.Buffer
			err := runWithin(t, func() error {
				return netcat.Stream(context.Background(), c, bytes.NewReader(in), &out)
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if !bytes.Equal(out.Bytes(), in) {
				t.Fatalf("stdout got %d bytes, want the %d of stdin", out.Len(), len(in))
			}
		})
	}
}

// TestStreamServerClosesFirst shows that Stream returns when the server
// closes, without waiting for the end of stdin, and that it stops a pending
// read of stdin when stdin allows it (an os.Pipe is non-blocking), leaving
// no goroutine behind.
func TestStreamServerClosesFirst(t *testing.T) {
	address := startServer(t, "unix:"+filepath.Join(sockDir(t), "s.sock"), func(c net.Conn) {
		io.WriteString(c, "bye\n")
	})
	c := dial(t, address)
	stdin, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer w.Close() // stdin never ends while Stream runs
	var out bytes.Buffer
	err = runWithin(t, func() error { return netcat.Stream(context.Background(), c, stdin, &out) })
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if out.String() != "bye\n" {
		t.Fatalf("stdout %q, want %q", out.String(), "bye\n")
	}
}

// TestStreamServerClosesFirstUnstoppableStdin shows that Stream returns even
// when the pending read of stdin cannot be stopped (io.Pipe has no
// deadlines, like a terminal), and that what that read returns later is not
// sent.
func TestStreamServerClosesFirstUnstoppableStdin(t *testing.T) {
	address := startServer(t, "unix:"+filepath.Join(sockDir(t), "s.sock"), func(c net.Conn) {
		io.WriteString(c, "bye\n")
	})
	c := &watchedConn{Conn: dial(t, address), wrote: make(chan error, 1)}
	stdin, w := io.Pipe()
	defer w.Close()
	var out bytes.Buffer
	err := runWithin(t, func() error { return netcat.Stream(context.Background(), c, stdin, &out) })
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	io.WriteString(w, "late\n") // the still pending Read gets it, too late
	if err := <-c.wrote; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writing what stdin gave after Stream returned: %v, want it stopped by a deadline", err)
	}
}

// watchedConn reports the result of each Write.
type watchedConn struct {
	net.Conn
	wrote chan error
}

func (c *watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.wrote <- err
	return n, err
}

// TestStreamCancel shows that cancelling the context ends Stream with the
// context's error, even while the server says nothing.
func TestStreamCancel(t *testing.T) {
	address := startServer(t, "unix:"+filepath.Join(sockDir(t), "s.sock"), func(c net.Conn) {
		io.Copy(io.Discard, c) // never answers, closes when the client does
	})
	c := dial(t, address)
	stdin, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- netcat.Stream(ctx, c, stdin, io.Discard) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream returned %v after cancel, want context.Canceled", err)
	}
	c.Close()
}

// framingServer answers each message it reads with the message in angle
// brackets, so that the client's output shows where each message began and
// ended; it closes when the client half-closes.
func framingServer(c net.Conn) {
	buf := make([]byte, 1024)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		fmt.Fprintf(c, "<%s>", buf[:n])
	}
}

// TestMessagesOneLineOneMessage shows that each line of stdin, newline
// included, is one message, and the last line without a newline is sent as
// it is; over unixpacket the half-close at the end of stdin ends the
// session when the server closes.
func TestMessagesOneLineOneMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\nb\n", "<a\n><b\n>"},
		{"a\nb", "<a\n><b>"},
		{"\n\n", "<\n><\n>"},
		{"", ""},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			address := startServer(t, "unixpacket:"+filepath.Join(sockDir(t), "p.sock"), framingServer)
			c := dial(t, address)
			var out bytes.Buffer
			err := runWithin(t, func() error {
				// A wait of an hour: the test would hang if Messages
				// waited for quiet instead of for the server to close.
				return netcat.Messages(context.Background(), c, strings.NewReader(tc.in), &out, time.Hour)
			})
			if err != nil {
				t.Fatalf("Messages: %v", err)
			}
			if out.String() != tc.want {
				t.Fatalf("stdout %q, want %q", out.String(), tc.want)
			}
		})
	}
}

// TestMessagesDatagrams shows Messages over datagram sockets with the echo
// server: each message comes back as it was sent, and Messages returns once
// no message has arrived for the quiet time after the end of stdin.
func TestMessagesDatagrams(t *testing.T) {
	for _, network := range []string{"unixgram", "udp"} {
		t.Run(network, func(t *testing.T) {
			address := "unixgram:" + filepath.Join(sockDir(t), "g.sock")
			if network == "udp" {
				address = "udp:127.0.0.1:0"
			}
			c := dial(t, startEcho(t, address))
			const in = "a\nb\nlast"
			var out bytes.Buffer
			err := runWithin(t, func() error {
				return netcat.Messages(context.Background(), c, strings.NewReader(in), &out, 200*time.Millisecond)
			})
			if err != nil {
				t.Fatalf("Messages: %v", err)
			}
			if out.String() != in {
				t.Fatalf("stdout %q, want %q", out.String(), in)
			}
		})
	}
}

// TestMessagesServerGone shows that a datagram session whose server is gone
// ends with the send error instead of waiting for replies forever.
func TestMessagesServerGone(t *testing.T) {
	path := filepath.Join(sockDir(t), "g.sock")
	srv, err := uds.ListenPacket(context.Background(), "unixgram:"+path)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, "unixgram:"+path)
	srv.Close()
	stdin, w, err := os.Pipe() // stdin does not end: only the error can
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer w.Close()
	io.WriteString(w, "ping\n")
	err = runWithin(t, func() error {
		return netcat.Messages(context.Background(), c, stdin, io.Discard, time.Hour)
	})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Messages returned %v, want connection refused", err)
	}
}

// TestMessagesCancel shows that cancelling the context ends Messages with
// the context's error, also during the quiet time.
func TestMessagesCancel(t *testing.T) {
	address := startEcho(t, "unixgram:"+filepath.Join(sockDir(t), "g.sock"))
	c := dial(t, address)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- netcat.Messages(ctx, c, strings.NewReader("ping\n"), io.Discard, time.Hour) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Messages returned %v after cancel, want context.Canceled", err)
	}
}
