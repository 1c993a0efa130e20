package inspect

import (
	"fmt"
	"io/fs"
	"os/user"
	"sort"
	"strconv"
)

// SocketType is the type of a Unix domain socket. The zero value means the
// type is not known.
type SocketType int

// The three types of Unix domain socket.
const (
	Stream    SocketType = iota + 1 // SOCK_STREAM, Go's "unix"
	SeqPacket                       // SOCK_SEQPACKET, Go's "unixpacket"
	Datagram                        // SOCK_DGRAM, Go's "unixgram"
)

// String returns "stream", "seqpacket" or "datagram", and "" for an unknown
// type.
func (t SocketType) String() string {
	switch t {
	case Stream:
		return "stream"
	case SeqPacket:
		return "seqpacket"
	case Datagram:
		return "datagram"
	}
	return ""
}

// Network returns the name Go's net package and udsgate addresses use for
// the type: "unix", "unixpacket" or "unixgram"; "" for an unknown type.
func (t SocketType) Network() string {
	switch t {
	case Stream:
		return "unix"
	case SeqPacket:
		return "unixpacket"
	case Datagram:
		return "unixgram"
	}
	return ""
}

// ParseSocketType reads a socket type by its network name (unix,
// unixpacket, unixgram) or by its kind (stream, seqpacket, datagram or
// dgram).
func ParseSocketType(s string) (SocketType, error) {
	switch s {
	case "unix", "stream":
		return Stream, nil
	case "unixpacket", "seqpacket":
		return SeqPacket, nil
	case "unixgram", "datagram", "dgram":
		return Datagram, nil
	}
	return 0, fmt.Errorf("unknown socket type %q (want unix, unixpacket or unixgram)", s)
}

// FileInfo is what a socket file's inode says about who may use it.
type FileInfo struct {
	Mode fs.FileMode // type and permission bits, as os.Lstat reports them

	// UID and GID are the file's owner and group, or -1 on platforms where
	// the package cannot read them. User and Group are their names, or ""
	// when the user database has no name for the number.
	UID, GID    int
	User, Group string
}

// OwnerString returns "user:group", with numbers where a name is unknown,
// and "" when the platform did not say.
func (f FileInfo) OwnerString() string {
	if f.UID < 0 {
		return ""
	}
	u, g := f.User, f.Group
	if u == "" {
		u = strconv.Itoa(f.UID)
	}
	if g == "" {
		g = strconv.Itoa(f.GID)
	}
	return u + ":" + g
}

// Process is a process that holds a socket.
type Process struct {
	PID     int
	Command string // from /proc/PID/comm; "" if it could not be read
	UID     int    // effective uid from /proc/PID/status; -1 if unknown
}

func sortProcesses(ps []Process) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].PID < ps[j].PID })
}

// names resolves uids and gids to names, remembering what it found: a
// listing asks for the same few owners many times.
type names struct {
	users, groups map[int]string
}

func (n *names) user(uid int) string {
	if uid < 0 {
		return ""
	}
	if name, ok := n.users[uid]; ok {
		return name
	}
	var name string
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	} // else: a uid with no name is shown as its number; not an error.
	if n.users == nil {
		n.users = map[int]string{}
	}
	n.users[uid] = name
	return name
}

func (n *names) group(gid int) string {
	if gid < 0 {
		return ""
	}
	if name, ok := n.groups[gid]; ok {
		return name
	}
	var name string
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		name = g.Name
	} // else: a gid with no name is shown as its number; not an error.
	if n.groups == nil {
		n.groups = map[int]string{}
	}
	n.groups[gid] = name
	return name
}

// fileInfo builds a FileInfo from an os.Lstat result.
func (n *names) fileInfo(fi fs.FileInfo) *FileInfo {
	uid, gid, ok := fileOwner(fi)
	f := &FileInfo{Mode: fi.Mode(), UID: -1, GID: -1}
	if ok {
		f.UID, f.GID = uid, gid
		f.User, f.Group = n.user(uid), n.group(gid)
	}
	return f
}
