package inspect

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procRoot is where procfs is mounted.
const procRoot = "/proc"

// readSockTable returns the Unix sockets of the caller's network namespace.
func readSockTable() ([]sockEntry, error) {
	f, err := os.Open(filepath.Join(procRoot, "net", "unix"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcNetUnix(f)
}

// processesOf finds the processes that hold each of the socket inodes, by
// reading the links in /proc/PID/fd ("socket:[INODE]"). Processes whose
// descriptors the caller may not read (another user's, for anyone but root)
// are skipped, and so are processes that exit during the scan: their
// sockets get no entry, never a guessed one. Each list is sorted by pid.
// It stops early, with what it found so far, when ctx is done.
func processesOf(ctx context.Context, inodes map[uint64]bool) map[uint64][]Process {
	found := map[uint64][]Process{}
	if len(inodes) == 0 {
		return found
	}
	dirs, err := os.ReadDir(procRoot)
	if err != nil {
		return found // no procfs: nothing is visible
	}
	for _, d := range dirs {
		if ctx.Err() != nil {
			break
		}
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid <= 0 {
			continue // not a process directory
		}
		held := socketsHeldBy(pid, inodes)
		if len(held) == 0 {
			continue
		}
		p := Process{PID: pid, Command: processComm(pid), UID: processUID(pid)}
		for ino := range held {
			found[ino] = append(found[ino], p)
		}
	}
	for _, ps := range found {
		sortProcesses(ps)
	}
	return found
}

// socketsHeldBy returns which of the wanted inodes pid has open. An
// unreadable or vanished fd directory yields none.
func socketsHeldBy(pid int, wanted map[uint64]bool) map[uint64]bool {
	fdDir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return nil // EACCES for other users' processes, ENOENT if it exited
	}
	var held map[uint64]bool
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil {
			continue // closed since ReadDir
		}
		num, ok := strings.CutPrefix(link, "socket:[")
		if !ok {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(num, "]"), 10, 64)
		if err != nil || !wanted[ino] {
			continue
		}
		if held == nil {
			held = map[uint64]bool{}
		}
		held[ino] = true
	}
	return held
}

// processComm returns the command name of pid (its comm, at most 15 bytes
// as the kernel keeps it), or "" if it cannot be read.
func processComm(pid int) string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return string(bytes.TrimRight(b, "\n"))
}

// processUID returns the effective uid of pid from the "Uid:" line of
// /proc/PID/status (real, effective, saved, filesystem), or -1.
func processUID(pid int) int {
	f, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Uid:")
		if !ok {
			continue
		}
		ids := strings.Fields(rest)
		if len(ids) < 2 {
			return -1
		}
		uid, err := strconv.Atoi(ids[1])
		if err != nil {
			return -1
		}
		return uid
	}
	return -1
}
