//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/udsgate/udsgate/uds"
)

// serveOnce listens on a unix socket in a fresh directory and runs handle
// on the first connection; accepted is closed when it arrives.
func serveOnce(t *testing.T, handle func(net.Conn)) (path string, accepted <-chan struct{}) {
	t.Helper()
	path = filepath.Join(shortDir(t), "s.sock")
	ln, err := uds.Listen(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	acc := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		close(acc)
		defer c.Close()
		handle(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return path, acc
}

// openStdin returns a pipe to give a child as its stdin, which stays open
// (the input never ends) until the test ends. The child gets the read end
// as a blocking file descriptor, as a shell gives it.
func openStdin(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r
}

// TestDialExitsWhenServerCloses shows that dial exits 0 with what the server
// sent once the server closes, although its stdin has not ended and the
// read of it cannot be interrupted.
func TestDialExitsWhenServerCloses(t *testing.T) {
	path, _ := serveOnce(t, func(c net.Conn) { io.WriteString(c, "bye\n") })
	cmd := udsgate(t, "dial", path)
	cmd.Stdin = openStdin(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("udsgate dial: %v, want exit 0; stderr:\n%s", err, stderr.String())
	}
	if string(out) != "bye\n" {
		t.Fatalf("stdout %q, want %q", out, "bye\n")
	}
}

// TestDialStopsOnSignal shows that SIGINT or SIGTERM ends a dial session
// that would otherwise go on (neither stdin nor the server ends), with exit
// 0, for a stream and for datagrams.
func TestDialStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			release := make(chan struct{})
			path, accepted := serveOnce(t, func(c net.Conn) { <-release })
			defer close(release)
			cmd := udsgate(t, "dial", path)
			cmd.Stdin = openStdin(t)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			<-accepted // dial is connected, so its signal handler is set
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("udsgate dial after %v: %v, want exit 0; stderr:\n%s", sig, err, stderr.String())
			}
		})
	}
}
