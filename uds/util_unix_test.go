//go:build unix

package uds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unixNets is every Unix socket type this platform has.
func unixNets() []string {
	if hasUnixPacket {
		return []string{Unix, UnixPacket, UnixGram}
	}
	return []string{Unix, UnixGram}
}

// shortDir makes a private directory with a short path: t.TempDir() can come
// close to the 107-byte limit on its own.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "u")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// sockType is the socket(2) type of a Unix network.
func sockType(network string) int {
	switch network {
	case UnixPacket:
		return unix.SOCK_SEQPACKET
	case UnixGram:
		return unix.SOCK_DGRAM
	}
	return unix.SOCK_STREAM
}

// makeStale leaves a socket file at path that no socket is bound to any
// more, as a process that died without cleaning up does.
func makeStale(t *testing.T, network, path string) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, sockType(network), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatalf("bind %s: %v", path, err)
	}
}

// startEcho serves an echo on a socket file with the net package alone, as
// some other program would, until the end of the test.
func startEcho(t *testing.T, network, path string) {
	t.Helper()
	var wg sync.WaitGroup
	if network == UnixGram {
		pc, err := net.ListenPacket(network, path)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			buf := make([]byte, 64*1024)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		})
		t.Cleanup(func() { pc.Close(); wg.Wait() })
		return
	}
	ln, err := net.Listen(network, path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// assertEcho checks that an echo server answers at network:path.
func assertEcho(t *testing.T, network, path string) {
	t.Helper()
	if err := dialPing(network+":"+path, time.Now().Add(ioTimeout)); err != nil {
		t.Errorf("the server at %s:%s no longer answers: %v", network, path, err)
	}
}

// fileState is what a test compares of a file before and after a failed
// listen: any change to the directory shows up in it.
type fileState struct {
	Mode    fs.FileMode
	Dev     uint64
	Ino     uint64
	Uid     uint32
	Gid     uint32
	Target  string // of a symlink
	Content string // of a regular file
}

// snapshot records every file under dir, dir itself included.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	snap := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		s := fileState{Mode: fi.Mode(), Dev: uint64(st.Dev), Ino: st.Ino, Uid: st.Uid, Gid: st.Gid}
		switch fi.Mode().Type() {
		case fs.ModeSymlink:
			s.Target, err = os.Readlink(path)
		case 0:
			var b []byte
			b, err = os.ReadFile(path)
			s.Content = string(b)
		}
		rel, _ := filepath.Rel(dir, path)
		snap[rel] = s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// assertSnapshot fails the test if dir is not as recorded in want.
func assertSnapshot(t *testing.T, dir string, want map[string]fileState) {
	t.Helper()
	got := snapshot(t, dir)
	if reflect.DeepEqual(got, want) {
		return
	}
	names := map[string]bool{}
	for n := range got {
		names[n] = true
	}
	for n := range want {
		names[n] = true
	}
	var diffs []string
	for n := range names {
		g, gok := got[n]
		w, wok := want[n]
		switch {
		case !wok:
			diffs = append(diffs, fmt.Sprintf("  %s: created (%v)", n, g.Mode))
		case !gok:
			diffs = append(diffs, fmt.Sprintf("  %s: removed (was %v)", n, w.Mode))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("  %s: changed from %+v to %+v", n, w, g))
		}
	}
	sort.Strings(diffs)
	t.Errorf("directory %s changed:\n%s", dir, strings.Join(diffs, "\n"))
}

// helperProc is a running helper process (the test binary re-run with
// helperEnv set), spoken to by lines on its stdin and stdout.
type helperProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *strings.Builder
	done   chan struct{} // closed when stdout is drained
	waited bool
	err    error
}

// helperOpts are how a helper process is started.
type helperOpts struct {
	env  []string            // KEY=value, besides helperEnv
	cred *syscall.Credential // run as another user
	exe  string              // the binary to run; "" for this test binary
}

// startHelper starts the helper mode with opts. The end of the test kills it
// if it still runs.
func startHelper(t *testing.T, mode string, opts helperOpts) *helperProc {
	t.Helper()
	exe := opts.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, opts.env...)...)
	// A race-enabled binary sleeps a second at exit by default, to let
	// racing goroutines report; the helpers have none worth the wait.
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if opts.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.cred}
	}
	h := &helperProc{cmd: cmd, lines: make(chan string, 16), stderr: new(strings.Builder), done: make(chan struct{})}
	cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", mode, err)
	}
	go func() {
		defer close(h.done)
		defer close(h.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if !h.waited {
			cmd.Process.Kill()
			h.wait()
		}
	})
	return h
}

// line returns the helper's next line of output.
func (h *helperProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			h.wait()
			t.Fatalf("helper exited (%v) without a line; stderr:\n%s", h.err, h.stderr)
		}
		return l
	case <-time.After(time.Minute):
		t.Fatalf("helper wrote nothing for a minute; stderr:\n%s", h.stderr)
	}
	return ""
}

// send writes a line to the helper's stdin.
func (h *helperProc) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, s+"\n"); err != nil {
		t.Fatalf("write to helper: %v", err)
	}
}

// finish closes the helper's stdin (its signal to stop), collects the rest
// of its output and waits for it to exit successfully.
func (h *helperProc) finish(t *testing.T) []string {
	t.Helper()
	h.stdin.Close()
	var rest []string
	for l := range h.lines {
		rest = append(rest, l)
	}
	if err := h.wait(); err != nil {
		t.Fatalf("helper: %v; stderr:\n%s", err, h.stderr)
	}
	return rest
}

func (h *helperProc) wait() error {
	if !h.waited {
		h.waited = true
		<-h.done
		h.err = h.cmd.Wait()
	}
	return h.err
}

// runHelper runs the test binary as a helper process; see the helper*
// functions. Its stdout is the protocol, its stderr is for humans.
func runHelper(mode string) int {
	var err error
	switch mode {
	case "listen":
		err = helperListen()
	case "modes":
		err = helperModes()
	case "listenloop":
		err = helperListenLoop()
	case "connect":
		err = helperConnect()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// helperListen: say "ready", wait for a line on stdin, listen on
// UDS_TEST_ADDR (with owner UDS_TEST_OWNER) and say "won", "inuse",
// "permission" or "error: ..."; the winner echoes until stdin ends, then
// closes its listener.
func helperListen() error {
	stdin := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := stdin.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for go: %v", err)
	}
	lc := ListenConfig{Owner: os.Getenv("UDS_TEST_OWNER")}
	srv, err := listenAny(context.Background(), lc, os.Getenv("UDS_TEST_ADDR"))
	switch {
	case errors.Is(err, ErrInUse):
		fmt.Println("inuse")
		return nil
	case errors.Is(err, fs.ErrPermission):
		fmt.Println("permission")
		return nil
	case err != nil:
		fmt.Printf("error: %v\n", err)
		return nil
	}
	fmt.Println("won")
	var wg sync.WaitGroup
	switch s := srv.(type) {
	case *Listener:
		wg.Go(func() {
			for {
				c, err := s.Accept()
				if err != nil {
					return
				}
				wg.Go(func() { io.Copy(c, c); c.Close() })
			}
		})
	case *PacketConn:
		wg.Go(func() {
			buf := make([]byte, 64*1024)
			for {
				n, from, err := s.ReadFrom(buf)
				if err != nil {
					return
				}
				s.WriteTo(buf[:n], from)
			}
		})
	}
	io.Copy(io.Discard, stdin) // until the parent closes stdin
	err = srv.Close()
	// Echo goroutines of open connections end when the process does.
	return err
}

// modeCases are the modes the "modes" helper listens with, on every type.
var modeCases = []os.FileMode{0o600, 0o660, 0o666, 0o640, 0o700, 0o060}

// helperModes: set the umask to UDS_TEST_UMASK, then for each type and each
// of modeCases listen in UDS_TEST_DIR and print "net mode after-bind final
// removed", the modes in octal: after-bind is what the file had between bind
// and chmod, final what Listen left, removed whether Close removed the file.
func helperModes() error {
	var umask int
	if _, err := fmt.Sscanf(os.Getenv("UDS_TEST_UMASK"), "%o", &umask); err != nil {
		return fmt.Errorf("UDS_TEST_UMASK: %v", err)
	}
	syscall.Umask(umask)
	var afterBind fs.FileMode
	testHookAfterBind = func(path string) {
		if fi, err := os.Lstat(path); err == nil {
			afterBind = fi.Mode().Perm()
		}
	}
	for _, network := range unixNets() {
		for _, mode := range modeCases {
			path := filepath.Join(os.Getenv("UDS_TEST_DIR"), "m.sock")
			srv, err := listenAny(context.Background(), ListenConfig{Mode: mode}, network+":"+path)
			if err != nil {
				return err
			}
			fi, err := os.Lstat(path)
			if err != nil {
				return err
			}
			if err := srv.Close(); err != nil {
				return err
			}
			_, err = os.Lstat(path)
			fmt.Printf("%s %o %o %o %v\n", network, mode, afterBind, fi.Mode().Perm(), errors.Is(err, fs.ErrNotExist))
		}
	}
	return nil
}

// helperListenLoop: with umask 0, listen on UDS_TEST_ADDR with mode
// UDS_TEST_MODE and close again, UDS_TEST_N times, then say "done".
func helperListenLoop() error {
	syscall.Umask(0)
	var mode, n int
	if _, err := fmt.Sscanf(os.Getenv("UDS_TEST_MODE")+" "+os.Getenv("UDS_TEST_N"), "%o %d", &mode, &n); err != nil {
		return err
	}
	for range n {
		srv, err := listenAny(context.Background(), ListenConfig{Mode: os.FileMode(mode)}, os.Getenv("UDS_TEST_ADDR"))
		if err != nil {
			return err
		}
		if err := srv.Close(); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// helperConnect tries to connect to UDS_TEST_NET socket UDS_TEST_PATH and
// counts the outcomes: once, or with UDS_TEST_LOOP=until-stdin-ends in a
// loop (bounded by a minute) until the parent closes stdin, or with
// UDS_TEST_LOOP=until-connected until the first success. It says
// "connecting" after the first attempt and at the end prints the counts as
// "ok=N eacces=N enoent=N refused=N other=N".
func helperConnect() error {
	path, typ := os.Getenv("UDS_TEST_PATH"), sockType(os.Getenv("UDS_TEST_NET"))
	loop := os.Getenv("UDS_TEST_LOOP")
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	counts := map[string]int{}
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
		if err != nil {
			return err
		}
		// Non-blocking: a full backlog is an error, not a wait.
		if err := unix.SetNonblock(fd, true); err != nil {
			return err
		}
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
		switch {
		case err == nil:
			counts["ok"]++
		case errors.Is(err, unix.EACCES):
			counts["eacces"]++
		case errors.Is(err, unix.ENOENT):
			counts["enoent"]++
		case errors.Is(err, unix.ECONNREFUSED):
			counts["refused"]++
		default:
			counts["other"]++
		}
		if i == 0 {
			fmt.Println("connecting")
		}
		if loop == "" || (loop == "until-connected" && counts["ok"] > 0) || time.Now().After(deadline) {
			break
		}
		if loop == "until-stdin-ends" {
			select {
			case <-stop:
			default:
				continue
			}
			break
		}
	}
	fmt.Printf("ok=%d eacces=%d enoent=%d refused=%d other=%d\n",
		counts["ok"], counts["eacces"], counts["enoent"], counts["refused"], counts["other"])
	return nil
}

// connectCounts parses the last line of helperConnect.
func connectCounts(t *testing.T, line string) (ok, eacces int) {
	t.Helper()
	var enoent, refused, other int
	if _, err := fmt.Sscanf(line, "ok=%d eacces=%d enoent=%d refused=%d other=%d", &ok, &eacces, &enoent, &refused, &other); err != nil {
		t.Fatalf("connect helper said %q: %v", line, err)
	}
	return ok, eacces
}

// requireRoot skips a test that needs root.
func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s", why)
	}
}
