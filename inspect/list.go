package inspect

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/udsgate/udsgate/uds"
)

// ErrUnsupported is returned by List on platforms without /proc/net/unix.
// It wraps uds.ErrUnsupported: no retry will help.
var ErrUnsupported = fmt.Errorf("reading /proc/net/unix, which only Linux has: %w", uds.ErrUnsupported)

// Listener is one listening Unix socket: a stream or seqpacket socket that
// accepts connections, or a bound datagram socket that is not connected to
// a peer.
type Listener struct {
	// Name is the address the socket is bound to: a path as the listener
	// passed it to bind(2) (relative if it was), or "@name" for the
	// abstract namespace.
	Name  string
	Type  SocketType
	Inode uint64 // the socket's inode, as /proc/PID/fd and ss(8) show it

	// File is the socket file now at Name: nil for abstract names and
	// relative paths, and when the path is gone or is no longer a socket.
	File *FileInfo

	// Processes hold the socket (several after a fork), as far as the
	// caller may see: empty when the caller may not read their
	// descriptors (another user's processes, unless root).
	Processes []Process

	// Clients is the number of connections open at the listener's side,
	// accepted or waiting in its queue (the kernel lists each with the
	// listener's name); -1 for datagram sockets, which have no
	// connections.
	Clients int
}

// Abstract reports whether the socket is in the abstract namespace.
func (l Listener) Abstract() bool { return strings.HasPrefix(l.Name, "@") }

// Filter selects listeners. Its zero value selects all of them.
type Filter struct {
	// User is a user name or uid. A socket with a file matches when the
	// file's owner is that user (the owner is who decides who may
	// connect); an abstract socket, which has no file, matches when a
	// visible process holding it runs as that user. A socket bound by a
	// relative path has no file the caller can name, and never matches. An
	// unknown name is a user.UnknownUserError.
	User string
	// Path keeps the listeners whose Name starts with it, as a string
	// ("/run/" or "@dbus"; "/run" also keeps "/running/x.sock").
	Path string
	// Type keeps one type; 0 keeps all.
	Type SocketType
}

// List returns the listening Unix sockets of the caller's network
// namespace, sorted by name, then type, then inode. It reads
// /proc/net/unix, and /proc/PID/fd to find the listening processes (as far
// as the caller may read them). On other platforms it returns an error
// wrapping ErrUnsupported.
func List(ctx context.Context, f Filter) ([]Listener, error) {
	uid := -1
	if f.User != "" {
		var err error
		if uid, err = lookupUID(f.User); err != nil {
			return nil, err
		}
	}
	table, err := readSockTable()
	if err != nil {
		return nil, fmt.Errorf("list sockets: %w", err)
	}

	// Connections carry the listener's name and type: count them by both.
	type key struct {
		name string
		typ  SocketType
	}
	clients := map[key]int{}
	for _, e := range table {
		if e.Connected && e.Name != "" {
			clients[key{e.Name, e.Type}]++
		}
	}

	var n names
	var ls []Listener
	wanted := map[uint64]bool{}
	for _, e := range table {
		if !e.Listening || e.Name == "" || e.Type == 0 ||
			!strings.HasPrefix(e.Name, f.Path) || (f.Type != 0 && e.Type != f.Type) {
			continue
		}
		l := Listener{Name: e.Name, Type: e.Type, Inode: e.Inode, Clients: -1}
		if e.Type != Datagram {
			l.Clients = clients[key{e.Name, e.Type}]
		}
		if filepath.IsAbs(e.Name) {
			if fi, err := os.Lstat(e.Name); err == nil && kindOf(fi.Mode()) == KindSocket {
				l.File = n.fileInfo(fi)
			} // else: the file is gone or replaced; the socket lives on without it.
		}
		ls = append(ls, l)
		wanted[e.Inode] = true
	}
	procs := processesOf(ctx, wanted)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kept := ls[:0]
	for _, l := range ls {
		l.Processes = procs[l.Inode]
		if uid < 0 || l.ownedBy(uid) {
			kept = append(kept, l)
		}
	}
	ls = kept
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Inode < b.Inode
	})
	return ls, nil
}

// ownedBy applies Filter.User.
func (l Listener) ownedBy(uid int) bool {
	if l.File != nil {
		return l.File.UID == uid
	}
	if !l.Abstract() {
		return false // a path socket whose file the caller cannot see
	}
	for _, p := range l.Processes {
		if p.UID == uid {
			return true
		}
	}
	return false
}

// lookupUID resolves a user name or a uid.
func lookupUID(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return -1, fmt.Errorf("user filter: %w", err)
	}
	return strconv.Atoi(u.Uid)
}
