package peercred

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OOBSize is the size of a control-data buffer that holds one SCM_CREDENTIALS
// message: CMSG_SPACE(sizeof(struct ucred)). Pass at least this much to
// ReadMsgUnix on a socket with EnablePassCred.
const OOBSize = (unix.SizeofCmsghdr+cmsgAlign-1)&^(cmsgAlign-1) +
	(unix.SizeofUcred+cmsgAlign-1)&^(cmsgAlign-1)

// cmsgAlign is the alignment of control messages, the size of a long
// (CMSG_ALIGN in <sys/socket.h>).
const cmsgAlign = int(unsafe.Sizeof(uintptr(0)))

// noUID is what SO_PEERCRED reports as uid and gid when the socket has no
// peer credentials (cred_to_ucred in net/core/sock.c starts from -1, and only
// a socket that has a peer overwrites it). (uid_t)-1 is never a real uid.
const noUID = 1<<32 - 1

func fillFromFD(fd int, c *Cred) error {
	var uc unix.Ucred
	n := uint32(unix.SizeofUcred)
	if err := getsockopt(fd, unix.SO_PEERCRED, unsafe.Pointer(&uc), &n); err != nil {
		return fmt.Errorf("getsockopt SO_PEERCRED: %w", err)
	}
	if uc.Uid == noUID {
		return fmt.Errorf("getsockopt SO_PEERCRED: %w", ErrNoCredentials)
	}
	c.UID, c.GID = int(uc.Uid), int(uc.Gid)
	// The pid is 0 when the peer's process is not visible from our pid
	// namespace.
	if uc.Pid > 0 {
		c.pid, c.pidOK = int(uc.Pid), true
	}
	return peerGroups(fd, c)
}

// getsockopt is getsockopt(2) at level SOL_SOCKET into a buffer of the
// caller's (which may be on its stack: x/sys's helpers allocate), retried on
// EINTR. On return *n holds the length the kernel wrote or, after ERANGE,
// the length it wants.
func getsockopt(fd, opt int, p unsafe.Pointer, n *uint32) error {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, uintptr(opt),
			uintptr(p), uintptr(unsafe.Pointer(n)), 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return errno
	}
}

// peerGroups fills c's groups from SO_PEERGROUPS, leaving them unknown on
// kernels before 4.13 that lack it.
//
// x/sys has no helper for it: the kernel copies an array of gid_t and, when
// the buffer is too small, fails with ERANGE and stores the length it needs
// in optlen (sock_getsockopt, net/core/sock.c). Most processes have a few
// groups, so a stack buffer usually does, and the slow path grows to the
// size the kernel asked for.
func peerGroups(fd int, c *Cred) error {
	var stack [64]uint32
	buf := stack[:]
	for {
		n := uint32(len(buf) * 4)
		err := getsockopt(fd, unix.SO_PEERGROUPS, unsafe.Pointer(&buf[0]), &n)
		switch err {
		case nil:
			gs := buf[:n/4]
			if len(gs) <= len(c.inline) {
				c.groups = c.inline[:len(gs):len(gs)]
			} else {
				c.groups = make([]int, len(gs))
			}
			for i, g := range gs {
				c.groups[i] = int(g)
			}
			c.groupsOK, c.groupsSource = true, sourcePeerGroups
			return nil
		case unix.ERANGE:
			if int(n/4) <= len(buf) { // the kernel must ask for more than it had
				return fmt.Errorf("getsockopt SO_PEERGROUPS: %w (kernel asked for %d bytes)", err, n)
			}
			buf = make([]uint32, n/4)
		case unix.ENOPROTOOPT, unix.ENOSYS:
			// Before Linux 4.13 (ENOPROTOOPT), or on 386 before 4.3 which
			// has no direct getsockopt system call: groups unknown.
			return nil
		case unix.ENODATA:
			return fmt.Errorf("getsockopt SO_PEERGROUPS: %w", ErrNoCredentials)
		default:
			return fmt.Errorf("getsockopt SO_PEERGROUPS: %w", err)
		}
	}
}

func setPassCred(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fmt.Errorf("setsockopt SO_PASSCRED: %w", err)
	}
	return nil
}

func fromOOB(oob []byte) (*Cred, error) {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return nil, fmt.Errorf("control message: %w", err)
		}
		oob = rest
		if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_CREDENTIALS {
			continue
		}
		if len(data) < unix.SizeofUcred {
			return nil, fmt.Errorf("SCM_CREDENTIALS of %d bytes, want %d", len(data), unix.SizeofUcred)
		}
		uc := (*unix.Ucred)(unsafe.Pointer(&data[0]))
		c := &Cred{UID: int(uc.Uid), GID: int(uc.Gid)}
		if uc.Pid > 0 {
			c.pid, c.pidOK = int(uc.Pid), true
			path := "/proc/" + strconv.Itoa(c.pid) + "/status"
			if gs, ok := procGroups(path, c.UID, c.GID); ok {
				c.setGroups(gs, sourceProcStatus)
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("no SCM_CREDENTIALS in control data (SO_PASSCRED not set?): %w", ErrNoCredentials)
}

// procGroups reads the supplementary groups of a process from its status
// file (proc_pid_status(5)), and reports false when it cannot be read or when
// the process there is no longer the sender: its uid and gid must each be one
// of the real, effective, saved or filesystem ids in the "Uid:" and "Gid:"
// lines. SCM_CREDENTIALS carries the real ids unless the sender chose to
// send others, and unix(7) lets an unprivileged sender choose only among its
// real, effective and saved ids, so a match is what a live sender shows. It
// catches a pid reused by a process of another user; it cannot catch one of
// the same user, or a sender that changed its groups since.
func procGroups(path string, uid, gid int) ([]int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false // exited, or /proc not mounted: groups unknown
	}
	return parseStatus(b, uid, gid)
}

func parseStatus(b []byte, uid, gid int) ([]int, bool) {
	var uidOK, gidOK, haveGroups bool
	var groups []int
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(key) {
		case "Uid":
			uidOK = hasID(val, uid)
		case "Gid":
			gidOK = hasID(val, gid)
		case "Groups":
			haveGroups = true
			groups = []int{}
			for _, f := range bytes.Fields(val) {
				g, err := strconv.Atoi(string(f))
				if err != nil || g < 0 {
					return nil, false
				}
				groups = append(groups, g)
			}
		}
	}
	if !uidOK || !gidOK || !haveGroups {
		return nil, false
	}
	return groups, true
}

// hasID reports whether id is one of the ids on a "Uid:" or "Gid:" line.
func hasID(val []byte, id int) bool {
	for _, f := range bytes.Fields(val) {
		if n, err := strconv.Atoi(string(f)); err == nil && n == id {
			return true
		}
	}
	return false
}
