package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/udsgate/udsgate/uds"
)

// Kind is what a path names, as Lstat sees it.
type Kind string

// Kinds of path.
const (
	KindMissing     Kind = "missing"  // nothing at the path (or a parent is not a directory)
	KindSocket      Kind = "socket"   // a socket file, live or not: see State
	KindSymlink     Kind = "symlink"  // see Target and Resolved
	KindRegular     Kind = "file"     // a regular file
	KindDir         Kind = "dir"      // a directory
	KindFIFO        Kind = "fifo"     // a named pipe
	KindCharDevice  Kind = "chardev"  // a character device
	KindBlockDevice Kind = "blockdev" // a block device
	KindOther       Kind = "other"    // anything else the file system has
	KindUnknown     Kind = "unknown"  // Lstat failed (e.g. a parent directory is unreadable): see Err
)

// State says whether a socket file has a listener.
type State string

// States of a socket file.
const (
	// StateLive: a socket is bound to the file and accepts connections (or,
	// for datagrams, messages).
	StateLive State = "live"
	// StateStale: no socket is bound to the file; its process is gone.
	// Connecting is refused. Clean removes such files.
	StateStale State = "stale"
	// StateNotListening: a stream or seqpacket socket is bound to the file
	// but has not called listen(2) (or no longer accepts): connecting is
	// refused, yet a process holds the file. Clean leaves it alone.
	StateNotListening State = "not listening"
	// StateUnknown: neither a test connection nor the system's table could
	// tell; see Err.
	StateUnknown State = "unknown"
)

// Result is what Probe found at one path.
type Result struct {
	Path string // the path probed, as given (for a symlink's target: the target joined to the link's directory)
	Kind Kind
	File *FileInfo // mode and owner of the path itself (never followed); nil when missing or unknown

	// For sockets:
	State State
	Type  SocketType // known when live or not listening; 0 otherwise
	// MayConnect says whether the caller may connect (write permission
	// on the file and search permission on its directories, for the
	// effective uid, gid and groups); nil when the platform cannot tell.
	MayConnect *bool
	// Inodes are the socket inodes that /proc/net/unix lists as listening
	// at this path (Linux). Listeners are the processes holding them, as
	// far as the caller may see: Inodes without Listeners means the
	// listener is not visible to the caller.
	Inodes    []uint64
	Listeners []Process

	// For symlinks:
	Target   string  // the link's content, as Readlink gives it
	Resolved *Result // the probe of the target; nil if the link could not be read

	// Removed is set by Clean when it removed this stale socket.
	Removed bool

	// Err says why the probe stopped short (KindUnknown, StateUnknown, an
	// unreadable or looping symlink). It is nil otherwise.
	Err error

	fi      fs.FileInfo // the Lstat result, for Clean's same-file check
	refused bool        // a test connect(2) to the file was refused: proof of staleness
}

// Live reports whether the path is a live socket, following symlinks: a
// client connecting to the path would reach a listener (given permission).
func (r Result) Live() bool {
	switch r.Kind {
	case KindSocket:
		return r.State == StateLive
	case KindSymlink:
		return r.Resolved != nil && r.Resolved.Live()
	}
	return false
}

// maxSymlinks bounds how many symlinks Probe follows in a chain, like the
// kernel's limit of 40 (ELOOP).
const maxSymlinks = 40

// connectTimeout bounds each test connection. connect(2) to a Unix socket
// does not wait for the server, so this only guards against a stuck file
// system.
const connectTimeout = 2 * time.Second

// Probe reports what path is: missing, a socket (live or stale, of which
// type, who listens), a symlink (with its target probed in turn), or
// something that is not a socket. It never follows the path itself: a
// symlink is reported as such, with the target in Resolved.
//
// Probing changes nothing on disk. To tell live from stale it connects to
// a socket file, first as a datagram socket, which no server notices (a
// stream or seqpacket server refuses it with EPROTOTYPE without knowing).
// On Linux the type of such a server then comes from /proc/net/unix, so no
// connection is made at all; only when /proc does not list the path (a
// socket bound by a relative path, or another platform) does Probe connect
// with seqpacket and then stream, and that last connection is one the
// server accepts and sees close at once. When connecting is not allowed,
// /proc/net/unix alone decides: listed means live, absent means stale.
//
// Errors are reported in Result.Err, never as a failed call: every path
// gets a Result.
func Probe(ctx context.Context, path string) Result {
	var n names
	return probe(ctx, path, &n, 0)
}

func probe(ctx context.Context, path string, n *names, depth int) Result {
	r := Result{Path: path}
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			r.Kind = KindMissing
			return r
		}
		r.Kind, r.Err = KindUnknown, err
		return r
	}
	r.fi = fi
	r.File = n.fileInfo(fi)
	r.Kind = kindOf(fi.Mode())
	switch r.Kind {
	case KindSymlink:
		target, err := os.Readlink(path)
		if err != nil {
			r.Err = err
			return r
		}
		r.Target = target
		if depth >= maxSymlinks {
			r.Err = fmt.Errorf("more than %d symlinks in a row", maxSymlinks)
			return r
		}
		resolved := probe(ctx, linkTarget(path, target), n, depth+1)
		r.Resolved = &resolved
	case KindSocket:
		probeSocket(ctx, &r)
	}
	return r
}

// linkTarget returns the path a symlink at link with the given target
// leads to. A relative target is joined to the link's directory as text,
// without cleaning: "dir/../x" is resolved by the kernel, through dir if
// dir is itself a symlink, and cleaning it here could name another file.
func linkTarget(link, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	i := strings.LastIndexAny(link, "/"+string(os.PathSeparator))
	if i < 0 {
		return target
	}
	return link[:i+1] + target
}

func kindOf(m fs.FileMode) Kind {
	switch t := m.Type(); {
	case t == 0:
		return KindRegular
	case t&fs.ModeSymlink != 0:
		return KindSymlink
	case t&fs.ModeDir != 0:
		return KindDir
	case t&fs.ModeSocket != 0:
		return KindSocket
	case t&fs.ModeNamedPipe != 0:
		return KindFIFO
	case t&fs.ModeCharDevice != 0:
		return KindCharDevice
	case t&fs.ModeDevice != 0:
		return KindBlockDevice
	}
	return KindOther
}

// isNotDir reports ENOTDIR: a parent in the path is not a directory, so
// nothing can be at the path.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// probeSocket fills in the socket fields of r, whose Kind is KindSocket.
func probeSocket(ctx context.Context, r *Result) {
	if may, ok := mayConnect(r.Path); ok {
		r.MayConnect = &may
	}
	table, tableErr := readSockTable()
	var listed []sockEntry
	if tableErr == nil {
		listed = listeningAt(table, r.fi)
	}
	listedType := commonType(listed)

	c := testConnect(ctx, r.Path, listedType)
	switch c.outcome {
	case outcomeConnected:
		r.State, r.Type = StateLive, c.typ
	case outcomeRefused:
		if c.typ == 0 {
			// Refused before any type mismatch: no socket is bound to the
			// file at all (unix_find_bsd in net/unix/af_unix.c looks up the
			// socket before it compares types). Whatever /proc lists under
			// this path is bound to an older file of the same name.
			r.State, r.refused = StateStale, true
			return
		}
		r.State, r.Type = StateNotListening, c.typ
		return
	case outcomeGone:
		*r = Result{Path: r.Path, Kind: KindMissing}
		return
	default: // denied, or an error that tells nothing: let /proc decide
		switch {
		case tableErr != nil:
			r.State, r.Err = StateUnknown, c.err
			return
		case len(listed) == 0:
			r.State = StateStale
			return
		}
		r.State, r.Type = StateLive, listedType
	}
	if tableErr != nil {
		return
	}
	wanted := map[uint64]bool{}
	for _, e := range listed {
		if r.Type == 0 || e.Type == r.Type {
			r.Inodes = append(r.Inodes, e.Inode)
			wanted[e.Inode] = true
		}
	}
	r.Listeners = uniqueProcesses(processesOf(ctx, wanted), r.Inodes)
}

// listeningAt returns the listening entries of the table whose bound path
// names the file fi now. The table holds each path as its listener passed
// it to bind(2), so comparing files rather than strings finds the listener
// of /run/x.sock when probing /var/run/x.sock, ../x.sock or a hard link. A
// listener that bound a relative path is not found this way, and neither is
// one whose path now names another file.
func listeningAt(table []sockEntry, fi fs.FileInfo) []sockEntry {
	var found []sockEntry
	for _, e := range table {
		if !e.Listening || !filepath.IsAbs(e.Name) {
			continue
		}
		if other, err := os.Lstat(e.Name); err == nil && os.SameFile(other, fi) {
			found = append(found, e)
		}
	}
	return found
}

// commonType returns the type shared by all entries, or 0 if there are none
// or they differ.
func commonType(entries []sockEntry) SocketType {
	var t SocketType
	for i, e := range entries {
		if i > 0 && e.Type != t {
			return 0
		}
		t = e.Type
	}
	return t
}

// uniqueProcesses merges the holders of the inodes, each pid once, in pid
// order. Forked servers share one listening socket.
func uniqueProcesses(byInode map[uint64][]Process, inodes []uint64) []Process {
	seen := map[int]bool{}
	var ps []Process
	for _, ino := range inodes {
		for _, p := range byInode[ino] {
			if !seen[p.PID] {
				seen[p.PID] = true
				ps = append(ps, p)
			}
		}
	}
	sortProcesses(ps)
	return ps
}

// outcome is what a test connect(2) says about a socket file.
type outcome int

const (
	outcomeOther     outcome = iota // an error that says nothing about the socket
	outcomeConnected                // a listener answered (or its backlog is full)
	outcomeRefused                  // ECONNREFUSED
	outcomeWrongType                // EPROTOTYPE: something of another type is bound
	outcomeDenied                   // no write permission on the file, or a directory above
	outcomeGone                     // the file vanished
)

// connectResult is the verdict of testConnect: for outcomeConnected and
// outcomeRefused, typ is the type that connected or was refused after a
// mismatch; typ 0 with outcomeRefused means refused at the first try.
type connectResult struct {
	outcome outcome
	typ     SocketType
	err     error
}

// testConnect finds out whether something listens at path, and its type,
// by connecting with each type in turn: datagram, seqpacket, stream. A
// mismatched type fails with EPROTOTYPE without the server noticing, so
// only the last, successful connect reaches a server. If /proc already
// listed a stream or seqpacket listener (listed), a datagram mismatch
// confirms it and no connection is made.
func testConnect(ctx context.Context, path string, listed SocketType) connectResult {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var (
		d            net.Dialer
		lastErr      error
		sawWrongType bool
	)
	for _, t := range []SocketType{Datagram, SeqPacket, Stream} {
		conn, err := d.DialContext(ctx, t.Network(), path)
		if conn != nil {
			conn.Close()
		}
		switch o := connectOutcome(err); o {
		case outcomeConnected:
			return connectResult{outcome: o, typ: t}
		case outcomeRefused:
			if !sawWrongType {
				return connectResult{outcome: o, err: err}
			}
			return connectResult{outcome: o, typ: t, err: err}
		case outcomeWrongType:
			sawWrongType = true
			if t == Datagram && (listed == Stream || listed == SeqPacket) {
				return connectResult{outcome: outcomeConnected, typ: listed}
			}
		case outcomeDenied, outcomeGone:
			return connectResult{outcome: o, err: err}
		default:
			// unixpacket unsupported on this platform, or an odd error:
			// the next type may still answer.
			lastErr = err
		}
	}
	if lastErr == nil {
		lastErr = errors.New("every socket type was refused as the wrong type")
	}
	return connectResult{outcome: outcomeOther, err: lastErr}
}

// Clean removes path if it is a stale socket, and nothing else: not a live
// socket, not one that is bound but not listening, not a symlink (even to a
// stale socket), not anything that is not a socket. It returns the probe of
// the path with Removed set when it removed the file.
//
// Right before removing, Clean checks again under the same flock(2) on the
// directory that uds takes to bind, and requires proof that nothing is
// bound: a connect(2) to the file refused (where Probe may also conclude
// stale from /proc/net/unix when connecting is not allowed, Clean does not
// remove on that ground, and returns an error instead). It also requires
// that the path still names the file it checked.
//
// An error means the path was left in place: the check could not be done,
// staleness could not be proved, or the removal failed.
func Clean(ctx context.Context, path string) (Result, error) {
	r := Probe(ctx, path)
	if r.Kind != KindSocket || r.State != StateStale {
		return r, nil
	}
	unlock, err := uds.LockDir(filepath.Dir(path))
	if err != nil {
		return r, fmt.Errorf("clean %s: %w", path, err)
	}
	defer unlock()
	r = Probe(ctx, path)
	if r.Kind != KindSocket || r.State != StateStale {
		return r, nil // a listener took the path meanwhile
	}
	if !r.refused {
		return r, fmt.Errorf("clean %s: left in place: cannot connect to prove it stale (only /proc/net/unix says so)", path)
	}
	now, err := os.Lstat(path)
	if err != nil || !os.SameFile(now, r.fi) {
		return r, fmt.Errorf("clean %s: left in place: the file changed while it was checked", path)
	}
	if err := os.Remove(path); err != nil {
		return r, fmt.Errorf("clean %s: %w", path, err)
	}
	r.Removed = true
	return r, nil
}
