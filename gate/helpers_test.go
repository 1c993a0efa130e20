//go:build unix

package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/udsgate/udsgate/policy"
	"github.com/udsgate/udsgate/uds"
)

const (
	clientEnv     = "UDSGATE_TEST_CLIENT"
	clientSendEnv = "UDSGATE_TEST_SEND"
)

// runClient is the re-executed test binary acting as a client: it sends
// send, half-closes, and copies the whole answer to stdout. For a datagram
// address it sends one message and prints one reply.
func runClient(addr, send string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := uds.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, send); err != nil {
		return err
	}
	if uds.MustParseAddr(addr).IsDatagram() {
		buf := make([]byte, 64<<10)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(buf[:n])
		return err
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	_, err = io.Copy(os.Stdout, c)
	return err
}

// sharedDir makes a short directory that other users may enter, for sockets
// and the copy of the test binary they run.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	exeOnce sync.Once
	exePath string
	exeErr  error
)

// clientBinary returns a copy of the test binary that any user may run: the
// original lies in the go command's private build directory.
func clientBinary(t *testing.T) string {
	t.Helper()
	exeOnce.Do(func() {
		var self []byte
		var dir string
		if self, exeErr = os.ReadFile("/proc/self/exe"); exeErr != nil {
			return
		}
		if dir, exeErr = os.MkdirTemp("", "gtbin"); exeErr != nil {
			return
		}
		os.Chmod(dir, 0o755)
		exePath = filepath.Join(dir, "gate.test")
		exeErr = os.WriteFile(exePath, self, 0o755)
	})
	if exeErr != nil {
		t.Fatal(exeErr)
	}
	return exePath
}

// clientResult is what a client process printed and how it ended.
type clientResult struct {
	out string
	err error
}

// runClientAs runs the test binary as a client of addr with the given
// credentials, sending send.
func runClientAs(t *testing.T, cred *syscall.Credential, addr, send string) clientResult {
	t.Helper()
	cmd := exec.Command(clientBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), clientEnv+"="+addr, clientSendEnv+"="+send)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = errors.New(strings.TrimSpace(stderr.String()) + ": " + err.Error())
	}
	return clientResult{out: stdout.String(), err: err}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test runs clients as other users (SysProcAttr.Credential)")
	}
}

// auditLog collects the gate's audit lines.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *auditLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the audit records with the given message.
func (l *auditLog) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startGate runs a gate for the test and stops it at cleanup.
func startGate(t *testing.T, cfg Config) (*Gate, *auditLog) {
	t.Helper()
	log := &auditLog{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(log, nil))
	}
	if cfg.Policy == nil {
		p, err := policy.New(policy.Spec{SameUser: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Policy = p
	}
	g, err := Listen(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(context.Background()) }()
	t.Cleanup(func() {
		g.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return g, log
}

// backend is a stream service for the gate to bridge to. It counts the
// connections it accepted; the test's cleanup closes it and waits for
// every connection's goroutine.
type backend struct {
	ln    *uds.Listener
	mu    sync.Mutex
	conns int
	wg    sync.WaitGroup
}

// serveBackend listens on addr and runs handle for each connection in a
// goroutine of its own, closing the connection after it.
func serveBackend(t *testing.T, addr string, handle func(net.Conn)) *backend {
	t.Helper()
	ln, err := uds.Listen(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns++
			b.mu.Unlock()
			b.wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		b.wg.Wait()
	})
	return b
}

// startBackend serves reply(what the client sent), written after the
// client's half-close.
func startBackend(t *testing.T, addr string, reply func(string) string) *backend {
	t.Helper()
	return serveBackend(t, addr, func(c net.Conn) {
		data, _ := io.ReadAll(c)
		io.WriteString(c, reply(string(data)))
	})
}

func (b *backend) connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns
}

// dialAndTalk sends msg, half-closes and reads the whole answer.
func dialAndTalk(t *testing.T, addr, msg string) (string, error) {
	t.Helper()
	c, err := uds.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if msg != "" {
		if _, err := io.WriteString(c, msg); err != nil {
			return "", err
		}
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	out, err := io.ReadAll(c)
	return string(out), err
}

// openSockets counts the sockets the process has open, each once however
// many descriptors name it (the engine holds a duplicate of the listener).
// Pipes are left out: the engine keeps a few empty ones for the next
// connection.
func openSockets(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd to count descriptors")
	}
	socks := make(map[string]bool)
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			socks[target] = true
		}
	}
	return len(socks)
}
