//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shortDir returns a directory for socket files with a path well under the
// kernel's 107-byte limit.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ug")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// waitForSocket waits until path is a socket file (want true) or is not
// (want false), polling the file system, for at most ten seconds.
func waitForSocket(t *testing.T, path string, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Lstat(path)
		if (err == nil && fi.Mode().Type() == fs.ModeSocket) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: is a socket should be %v, still not after 10s", path, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// udsgate returns a command that runs udsgate (the test binary, which
// testscript.Main put in $PATH under that name), killed if the test runs
// too long.
func udsgate(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, "udsgate", args...)
}

// TestEchoCommandStopsOnSignal shows that udsgate echo, on SIGTERM or
// SIGINT, stops, removes its socket file (for unixgram too) and exits 0.
// (testscript's kill sends only SIGINT and SIGKILL, so SIGTERM is tested
// here.)
func TestEchoCommandStopsOnSignal(t *testing.T) {
	for _, tc := range []struct {
		network string
		sig     syscall.Signal
	}{
		{"unix", syscall.SIGTERM},
		{"unixpacket", syscall.SIGTERM},
		{"unixgram", syscall.SIGTERM},
		{"unix", syscall.SIGINT},
		{"unixgram", syscall.SIGINT},
	} {
		t.Run(tc.network+"/"+tc.sig.String(), func(t *testing.T) {
			path := filepath.Join(shortDir(t), "e.sock")
			cmd := udsgate(t, "echo", tc.network+":"+path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForSocket(t, path, true)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("udsgate echo after %v: %v, want exit 0; stderr:\n%s", tc.sig, err, stderr.String())
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket file after %v: %v, want it removed", tc.sig, err)
			}
			want := "udsgate: echo server listening on " + tc.network + ":" + path + "\n"
			if got := stderr.String(); got != want {
				t.Errorf("stderr %q, want %q", got, want)
			}
		})
	}
}

// TestEchoCommandTCP shows udsgate echo on a network socket: with port 0 it
// names the port the kernel chose, and dial reaches it there.
func TestEchoCommandTCP(t *testing.T) {
	cmd := udsgate(t, "echo", "tcp:127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("udsgate echo after SIGTERM: %v, want exit 0", err)
		}
	}()
	line := make([]byte, 0, 128)
	for b := make([]byte, 1); !bytes.HasSuffix(line, []byte("\n")); {
		if _, err := stderr.Read(b); err != nil {
			t.Fatalf("reading the listening line: %v (so far %q)", err, line)
		}
		line = append(line, b[0])
	}
	const prefix = "udsgate: echo server listening on "
	address := strings.TrimSuffix(strings.TrimPrefix(string(line), prefix), "\n")
	if !strings.HasPrefix(address, "tcp:127.0.0.1:") || strings.HasSuffix(address, ":0") {
		t.Fatalf("stderr said %q, want %q and the chosen port", line, prefix+"tcp:127.0.0.1:PORT")
	}

	dial := udsgate(t, "dial", address)
	dial.Stdin = strings.NewReader("over tcp\n")
	out, err := dial.Output()
	if err != nil || string(out) != "over tcp\n" {
		t.Fatalf("udsgate dial %s: %q, %v; want %q", address, out, err, "over tcp\n")
	}
}
