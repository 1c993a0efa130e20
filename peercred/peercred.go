// Package peercred reports what the kernel says about the process on the
// other end of a Unix domain socket: its user, its primary group, and where
// the platform can tell, its pid and supplementary groups.
//
// Everything here comes from the kernel, never from the peer and never, on
// Linux, from the user database. A field the platform cannot know is returned
// as (value, false) by its method, not as a zero that looks real.
//
// On a connected stream or seqpacket socket, [Get] asks once per connection:
//
//   - Linux: SO_PEERCRED gives uid, gid and pid, and SO_PEERGROUPS (Linux 4.13
//     and later) the supplementary groups. Both describe the peer as it was
//     when the connection was made, not as it is now. unix(7): "The returned
//     credentials are those that were in effect at the time of the call to
//     connect(2), listen(2), or socketpair(2)". SO_PEERGROUPS reads the same
//     kernel record (sk_peer_cred, net/core/sock.c), so its groups are the
//     peer process's real groups at connect time: those it had, not those
//     the user database says it should have. The uid and gid are the
//     effective ones. A process that later changes its uid or groups, or
//     passes the socket to another process, does not change the answer.
//   - macOS: LOCAL_PEERCRED gives the effective uid and the group list, whose
//     first entry is the effective gid, and LOCAL_PEERPID the pid. unix(4):
//     "The credentials presented to the server (the listen(2) caller) are
//     those of the client when it called connect(2)". The kernel copies at
//     most 16 groups (XU_NGROUPS), so a peer in more groups is reported with
//     the first 16 only (the primary and 15 supplementary).
//   - FreeBSD: LOCAL_PEERCRED gives the same struct xucred as macOS, with the
//     same 16-group cap, and the pid since FreeBSD 13 (unknown before).
//   - Elsewhere (Windows, Plan 9, ...): [ErrNotImplemented].
//
// On Linux a datagram server learns each sender's credentials per message
// instead: [EnablePassCred] asks for them, and [FromOOB] reads them from the
// SCM_CREDENTIALS control message that then comes with every datagram. That
// message carries uid, gid and pid only, so FromOOB reads the supplementary
// groups from /proc/PID/status. This is weaker than SO_PEERGROUPS, and
// [Cred.GroupsSource] says which one answered: /proc is read after the
// datagram was sent, not when; the sender may have changed its groups in
// between; and the pid may by then belong to another process. FromOOB keeps
// the groups only if the uid and gid in /proc still match the message, which
// catches a pid reused by another user but not one reused by the same user.
//
// [UserName] and [GroupName] turn ids into names for logs, looking each id up
// once per process. Deciding who may connect is package policy's job; this
// package knows nothing of rules.
package peercred

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
)

// ErrNotImplemented reports that this platform has no way to learn a Unix
// socket peer's credentials (or, for datagrams, no per-message credentials).
var ErrNotImplemented = errors.New("peer credentials not implemented on " + runtime.GOOS)

// ErrUnsupportedConnType reports a connection that is not a Unix domain
// socket, or that does not expose its descriptor (syscall.Conn).
var ErrUnsupportedConnType = errors.New("not a Unix domain socket connection")

// ErrNoCredentials reports that the kernel holds no credentials for the peer:
// the socket is not connected (an unconnected datagram socket, a TCP socket's
// descriptor), or a datagram's control data has no SCM_CREDENTIALS message.
var ErrNoCredentials = errors.New("kernel has no peer credentials")

// Where the supplementary groups came from, as [Cred.GroupsSource] reports it.
const (
	sourcePeerGroups = "SO_PEERGROUPS"    // Linux, stream and seqpacket: the kernel, at connect time
	sourceProcStatus = "/proc/PID/status" // Linux, datagrams: read after the fact
	sourceLocalCred  = "LOCAL_PEERCRED"   // macOS and FreeBSD: the kernel, at most 16 groups
	sourceSynthetic  = "synthetic"        // made by New
	maxInlineGroups  = 16                 // groups stored without a second allocation
	maxCachedNames   = 4096               // ids whose names UserName and GroupName remember
)

// Cred is what the kernel says about the process on the other end.
//
// UID and GID are always known: on Linux and macOS they are the effective
// ids, and for Linux datagrams the real ids (SCM_CREDENTIALS carries those).
// The pid and the supplementary groups may be unknown; their methods say so.
// A Cred is not changed after it is returned, so it is safe to share between
// goroutines.
type Cred struct {
	UID int // always known
	GID int // primary gid, always known

	pid          int
	pidOK        bool
	groups       []int // supplementary, as the kernel reports them; may alias inline
	groupsOK     bool
	groupsSource string
	inline       [maxInlineGroups]int
}

// New returns a Cred with the given ids, for tests and for synthetic
// credentials (a peer known by other means). A pid <= 0 means the pid is
// unknown; nil groups mean the groups are unknown, while a non-nil empty slice
// means the peer has none. GroupsSource reports "synthetic" when groups are
// given. New copies groups.
func New(uid, gid, pid int, groups []int) *Cred {
	c := &Cred{UID: uid, GID: gid}
	if pid > 0 {
		c.pid, c.pidOK = pid, true
	}
	if groups != nil {
		c.setGroups(groups, sourceSynthetic)
	}
	return c
}

// setGroups stores a copy of gs, inline when it fits.
func (c *Cred) setGroups(gs []int, source string) {
	if len(gs) <= len(c.inline) {
		c.groups = c.inline[:len(gs):len(gs)]
	} else {
		c.groups = make([]int, len(gs))
	}
	copy(c.groups, gs)
	c.groupsOK, c.groupsSource = true, source
}

// PID returns the peer's process id, and false when the platform did not say
// (FreeBSD before 13, or a datagram sender in a pid namespace the receiver
// cannot see). The process may have exited since: a pid names a process only
// while it lives.
func (c *Cred) PID() (pid int, ok bool) { return c.pid, c.pidOK }

// Groups returns a copy of the peer's supplementary groups as the kernel
// reports them, and false when they are unknown (Linux before 4.13, or a
// datagram sender whose /proc entry could not be read or did not match). The
// list may or may not include the primary gid: Linux reports the groups set
// by setgroups(2), which need not contain it; on macOS and FreeBSD the
// primary gid is left out (the kernel puts it first and Cred.GID holds it).
func (c *Cred) Groups() (gids []int, ok bool) {
	if !c.groupsOK {
		return nil, false
	}
	return slices.Clone(c.groups), true
}

// AppendGroups appends the supplementary groups to dst and returns the
// extended slice, and false (with dst unchanged) when they are unknown. It is
// Groups without an allocation, for callers on a hot path that pass a buffer.
func (c *Cred) AppendGroups(dst []int) ([]int, bool) {
	if !c.groupsOK {
		return dst, false
	}
	return append(dst, c.groups...), true
}

// GroupsSource says where the supplementary groups came from:
// "SO_PEERGROUPS" (Linux, the kernel at connect time), "/proc/PID/status"
// (Linux datagrams, read when the message was received, see the package doc),
// "LOCAL_PEERCRED" (macOS and FreeBSD, at most 16 groups), "synthetic" (made
// by New), or "" when the groups are unknown.
func (c *Cred) GroupsSource() string {
	if !c.groupsOK {
		return ""
	}
	return c.groupsSource
}

// String formats the credential for logs and errors, with numbers only (use
// UserName and GroupName for names): "uid=1000 gid=1000 pid=4242
// groups=[4 27]", with "?" for what is unknown.
func (c *Cred) String() string {
	b := make([]byte, 0, 64)
	b = append(b, "uid="...)
	b = strconv.AppendInt(b, int64(c.UID), 10)
	b = append(b, " gid="...)
	b = strconv.AppendInt(b, int64(c.GID), 10)
	b = append(b, " pid="...)
	if c.pidOK {
		b = strconv.AppendInt(b, int64(c.pid), 10)
	} else {
		b = append(b, '?')
	}
	b = append(b, " groups="...)
	if !c.groupsOK {
		b = append(b, '?')
	} else {
		b = append(b, '[')
		for i, g := range c.groups {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(g), 10)
		}
		b = append(b, ']')
	}
	return string(b)
}

// Get returns the credentials of the peer of c, which must be a connected
// Unix domain socket (unix or unixpacket; a unixgram socket made with
// socketpair also has a peer). It reads them through c's SyscallConn, never
// duplicating the descriptor, and retries system calls interrupted by a
// signal (EINTR). Errors wrap ErrUnsupportedConnType for a connection that is
// not a Unix socket, ErrNoCredentials when the kernel has none, and
// ErrNotImplemented on platforms without peer credentials.
func Get(c net.Conn) (*Cred, error) {
	if c == nil {
		return nil, fmt.Errorf("peercred: nil connection: %w", ErrUnsupportedConnType)
	}
	if _, ok := c.LocalAddr().(*net.UnixAddr); !ok {
		return nil, fmt.Errorf("peercred: %T with address %v: %w", c, c.LocalAddr(), ErrUnsupportedConnType)
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("peercred: %T has no SyscallConn: %w", c, ErrUnsupportedConnType)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peercred: %w", err)
	}
	// One allocation holds the answer and the error, so that the closure
	// given to Control captures a single pointer.
	r := new(result)
	if err := rc.Control(func(fd uintptr) { r.err = fillFromFD(int(fd), &r.cred) }); err != nil {
		return nil, fmt.Errorf("peercred: %w", err)
	}
	if r.err != nil {
		return nil, fmt.Errorf("peercred: %w", r.err)
	}
	return &r.cred, nil
}

type result struct {
	cred Cred
	err  error
}

// FromFD is Get for a raw connected Unix socket descriptor, for callers that
// manage descriptors themselves (an epoll loop). The caller keeps ownership of
// fd: FromFD neither closes nor duplicates it, and fd must stay open until it
// returns.
func FromFD(fd int) (*Cred, error) {
	if fd < 0 {
		return nil, fmt.Errorf("peercred: bad descriptor %d: %w", fd, syscall.EBADF)
	}
	cred := new(Cred)
	if err := fillFromFD(fd, cred); err != nil {
		return nil, fmt.Errorf("peercred: %w", err)
	}
	return cred, nil
}

// EnablePassCred asks the kernel to attach the sender's credentials to every
// datagram that c receives from now on (SO_PASSCRED, Linux only); read them
// with FromOOB from the control data of ReadMsgUnix, with a buffer of at
// least OOBSize bytes. Elsewhere it returns an error wrapping
// ErrNotImplemented.
func EnablePassCred(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("peercred: %w", err)
	}
	var setErr error
	if err := rc.Control(func(fd uintptr) { setErr = setPassCred(int(fd)) }); err != nil {
		return fmt.Errorf("peercred: %w", err)
	}
	if setErr != nil {
		return fmt.Errorf("peercred: %w", setErr)
	}
	return nil
}

// FromOOB returns the sender's credentials from the control data (oob) of one
// datagram received on a socket with EnablePassCred. On Linux the groups come
// from /proc/PID/status, and only when the uid and gid there still match the
// message's (GroupsSource "/proc/PID/status"); otherwise they are unknown.
// See the package doc for why these groups are weaker than a stream peer's.
// Errors wrap ErrNoCredentials when oob has no SCM_CREDENTIALS message, and
// ErrNotImplemented on platforms other than Linux. File descriptors passed
// in the same control data (SCM_RIGHTS) are left to the caller to close.
func FromOOB(oob []byte) (*Cred, error) {
	cred, err := fromOOB(oob)
	if err != nil {
		return nil, fmt.Errorf("peercred: %w", err)
	}
	return cred, nil
}

// Name lookups, package variables so that tests can count them.
var (
	lookupUserName = func(uid int) (string, bool) {
		u, err := user.LookupId(strconv.Itoa(uid))
		if err != nil {
			return "", false
		}
		return u.Username, true
	}
	lookupGroupName = func(gid int) (string, bool) {
		g, err := user.LookupGroupId(strconv.Itoa(gid))
		if err != nil {
			return "", false
		}
		return g.Name, true
	}
	userNames, groupNames nameCache
)

// UserName returns the name of uid for logs ("alice"), or the uid as a
// decimal string when it has no name or the user database cannot be read:
// never an error. Each uid is looked up once per process (two goroutines
// asking for a new uid at the same moment may both look it up) and the
// answer kept, so a user created or renamed later keeps its first answer.
// It is safe for concurrent use; at most 4096 names are kept, later ones are
// looked up on every call.
func UserName(uid int) string { return userNames.get(uid, lookupUserName) }

// GroupName is UserName for a gid.
func GroupName(gid int) string { return groupNames.get(gid, lookupGroupName) }

// nameCache remembers names by id. A map under a RWMutex rather than a
// sync.Map: an int key boxed in an interface allocates, and this is on every
// connection's log line.
type nameCache struct {
	mu    sync.RWMutex
	names map[int]string
}

func (nc *nameCache) get(id int, lookup func(int) (string, bool)) string {
	nc.mu.RLock()
	name, ok := nc.names[id]
	nc.mu.RUnlock()
	if ok {
		return name
	}
	// Look up without the lock: the user database may be slow (NSS, LDAP),
	// and other ids should not wait for it.
	name, ok = lookup(id)
	if !ok {
		name = strconv.Itoa(id)
	}
	nc.mu.Lock()
	if nc.names == nil {
		nc.names = make(map[int]string)
	}
	if len(nc.names) < maxCachedNames {
		nc.names[id] = name
	}
	nc.mu.Unlock()
	return name
}
