//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/udsgate/udsgate/uds"
)

// startTimeout bounds how long a process may take to start listening.
const startTimeout = 10 * time.Second

// proc is a process the suite started: a backend, a relay, socat or the
// gate. Its stderr goes to a log file in the work directory.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

// start starts a process with stderr (and stdout unless the caller takes
// it) into a log file named after it.
func start(dir, name string, stdout *os.File, argv ...string) (*proc, error) {
	p := &proc{name: name, log: filepath.Join(dir, strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(name)+".log"), exited: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stderr = logf
	p.cmd.Stdout = logf
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// pid returns the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, waits up to five seconds, then kills.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	// An error means it has just exited, which is what we want.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail returns the last lines of the process's log, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// startBackend re-executes the suite binary as an echo or sink backend on
// address and returns it with the address it listens on (the port filled
// in for tcp and udp).
func startBackend(dir, kind, address string) (*proc, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	p, err := start(dir, kind+" backend "+strings.NewReplacer("/", "_", ":", "_").Replace(filepath.Base(address)), w, self, "backend", kind, address)
	w.Close()
	if err != nil {
		return nil, "", err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if where, ok := strings.CutPrefix(strings.TrimSpace(s), "ready "); ok {
			return p, where, nil
		}
	case <-time.After(startTimeout):
	}
	p.stop()
	return nil, "", fmt.Errorf("%s did not start: %s", p.name, p.logTail())
}

// startFront starts a relay, socat or the gate in front of a backend and
// waits until it answers at address.
func startFront(dir, name, address string, argv ...string) (*proc, error) {
	p, err := start(dir, name, nil, argv...)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := uds.Dial(context.Background(), address)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited: %v: %s", name, p.err, p.logTail())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not listening on %s after %v: %v", name, address, startTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procStatus returns a process's resident memory in bytes (VmRSS of
// /proc/PID/status) and its number of open descriptors (/proc/PID/fd).
func procStatus(pid int) (rss int64, fds int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest)) // "1234 kB"
			if len(f) != 2 || f[1] != "kB" {
				return 0, 0, fmt.Errorf("unexpected VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, 0, err
			}
			rss = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc/PID/status")
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, err
	}
	return rss, len(ents), nil
}

// raiseFileLimit raises RLIMIT_NOFILE to at least want (the hard limit too,
// which needs privilege), for the suite and the processes it starts, and
// returns the soft limit it got.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return want, nil
		}
	}
	lim.Cur = lim.Max
	// Calling Setrlimit also makes the children inherit the raised limit
	// (Go otherwise restores the original soft limit in children).
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
