package uds

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrInUse reports that a live listener answers at the address.
var ErrInUse = errors.New("address in use by a live listener")

// ErrNotSocket reports that the path exists and is not a socket. Errors that
// wrap it are *NotSocketError.
var ErrNotSocket = errors.New("not a socket")

// NotSocketError reports a path that exists and is something other than a
// socket: Listen never removes it.
type NotSocketError struct {
	Path string
	Kind string // "regular file", "directory", "symlink to /x", ...
}

func (e *NotSocketError) Error() string {
	return fmt.Sprintf("%s is a %s, not a socket; leaving it alone", e.Path, e.Kind)
}

// Is makes errors.Is(err, ErrNotSocket) true.
func (e *NotSocketError) Is(target error) bool { return target == ErrNotSocket }

// ListenConfig holds the options for a listening socket file. Its zero value
// is a valid configuration: the file gets the kernel's default mode (0777
// masked by the umask) and the process's owner and group.
type ListenConfig struct {
	// Mode is the permission bits of the socket file, e.g. 0660; zero keeps
	// the kernel's default. On Linux the file never has wider permissions
	// than Mode, not even for a moment: the socket is made owner-only before
	// bind (fchmod on the socket itself) and widened to Mode only after the
	// owner and group are set. On other platforms the file is created with
	// 0777 masked by the umask and then changed, so use a directory that
	// only the intended users can enter if that moment matters.
	Mode os.FileMode

	// Owner and Group are a user and a group, by name or number, to own the
	// socket file. "" or "-1" keeps the one the kernel gives (the process's),
	// as -1 does for os.Chown. An unknown name is a user.UnknownUserError or
	// user.UnknownGroupError.
	Owner, Group string
}

// Listen listens on a stream or seqpacket address (unix, unixpacket, tcp).
// See the package doc for what happens to an existing file at the path.
// The caller must Close the Listener; Close removes the socket file.
func Listen(ctx context.Context, address string) (*Listener, error) {
	var lc ListenConfig
	return lc.Listen(ctx, address)
}

// ListenPacket listens on a datagram address (unixgram, udp). The caller
// must Close the PacketConn; Close removes the socket file.
func ListenPacket(ctx context.Context, address string) (*PacketConn, error) {
	var lc ListenConfig
	return lc.ListenPacket(ctx, address)
}

// Listener is a stream or seqpacket listener that removes its socket file on
// Close, if the file is still the one it created.
type Listener struct {
	net.Listener
	addr Addr
	file *ownedFile // nil when there is no file: abstract and network addresses
}

// Address returns the address the listener was asked for.
func (l *Listener) Address() Addr { return l.addr }

// Close removes the socket file if the path still names the file this
// listener created, then closes the listener. It is safe to call more than
// once.
func (l *Listener) Close() error {
	rmErr := l.file.remove()
	err := l.Listener.Close()
	if rmErr != nil {
		return rmErr
	}
	return err
}

// PacketConn is a datagram socket that removes its socket file on Close, if
// the file is still the one it created. The embedded net.PacketConn is a
// *net.UnixConn or a *net.UDPConn, for callers that need ReadMsgUnix and
// friends.
type PacketConn struct {
	net.PacketConn
	addr Addr
	file *ownedFile
}

// Address returns the address the socket was asked for.
func (c *PacketConn) Address() Addr { return c.addr }

// Close removes the socket file if the path still names the file this socket
// created, then closes the socket. It is safe to call more than once.
func (c *PacketConn) Close() error {
	rmErr := c.file.remove()
	err := c.PacketConn.Close()
	if rmErr != nil {
		return rmErr
	}
	return err
}

// Listen is like the package function Listen with the options of lc.
func (lc *ListenConfig) Listen(ctx context.Context, address string) (*Listener, error) {
	a, err := ParseAddr(address)
	if err != nil {
		return nil, err
	}
	if a.IsDatagram() {
		return nil, &AddrError{Addr: address, Err: fmt.Errorf("%s is a datagram network: use ListenPacket", a.Net)}
	}
	var l *Listener
	err = lc.listen(ctx, a, func(nlc *net.ListenConfig) (io interface{ Close() error }, err error) {
		ln, err := nlc.Listen(ctx, a.Net, a.Name)
		if err != nil {
			return nil, err
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			// We remove the file ourselves, and only if it is still ours.
			ul.SetUnlinkOnClose(false)
		}
		l = &Listener{Listener: ln, addr: a}
		return ln, nil
	}, func(f *ownedFile) { l.file = f })
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", a, err)
	}
	return l, nil
}

// ListenPacket is like the package function ListenPacket with the options of
// lc.
func (lc *ListenConfig) ListenPacket(ctx context.Context, address string) (*PacketConn, error) {
	a, err := ParseAddr(address)
	if err != nil {
		return nil, err
	}
	if !a.IsDatagram() {
		return nil, &AddrError{Addr: address, Err: fmt.Errorf("%s is not a datagram network: use Listen", a.Net)}
	}
	var c *PacketConn
	err = lc.listen(ctx, a, func(nlc *net.ListenConfig) (interface{ Close() error }, error) {
		pc, err := nlc.ListenPacket(ctx, a.Net, a.Name)
		if err != nil {
			return nil, err
		}
		c = &PacketConn{PacketConn: pc, addr: a}
		return pc, nil
	}, func(f *ownedFile) { c.file = f })
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", a, err)
	}
	return c, nil
}

// listen runs the safe sequence around bind, which the caller does in
// doBind: resolve owner and group, lock the directory, clear a stale
// socket, bind with the mode narrowed, then chown and chmod. On success it
// hands the created file to setFile.
func (lc *ListenConfig) listen(ctx context.Context, a Addr, doBind func(*net.ListenConfig) (interface{ Close() error }, error), setFile func(*ownedFile)) error {
	uid, err := lookupUser(lc.Owner)
	if err != nil {
		return err
	}
	gid, err := lookupGroup(lc.Group)
	if err != nil {
		return err
	}
	path := a.Path()
	if path == "" {
		if lc.Mode != 0 || uid != -1 || gid != -1 {
			return &AddrError{Addr: a.String(), Err: errors.New("mode, owner and group need a socket file; this address has none")}
		}
		_, err := doBind(&net.ListenConfig{})
		if a.IsAbstract() && errors.Is(err, syscall.EADDRINUSE) {
			// An abstract name is bound exactly as long as its socket is
			// open, so a taken name is a live listener.
			return fmt.Errorf("%w: %w", ErrInUse, err)
		}
		return err
	}
	if (uid != -1 || gid != -1) && !hasChown {
		return fmt.Errorf("owner and group of a socket file: %w", ErrUnsupported)
	}
	dir := filepath.Dir(path)
	if err := checkDir(dir); err != nil {
		return err
	}
	unlock, err := LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	if err := clearStale(ctx, a); err != nil {
		return err
	}
	var nlc net.ListenConfig
	if lc.Mode != 0 && modeBeforeBind {
		nlc.Control = fchmodBeforeBind(lc.Mode.Perm() & 0o700)
	}
	sock, err := doBind(&nlc)
	if err != nil {
		return err
	}
	if testHookAfterBind != nil {
		testHookAfterBind(path)
	}
	f, err := setOwnerAndMode(path, uid, gid, lc.Mode)
	if err != nil {
		// Undo the bind: the path is ours, since we hold the lock.
		os.Remove(path)
		sock.Close()
		return err
	}
	setFile(f)
	return nil
}

// testHookAfterBind, when set by a test, is called between bind and the
// chown and chmod that follow it, to look at the file in that moment.
var testHookAfterBind func(path string)

// checkDir reports a missing or unusable parent directory in plain words.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist: %w", dir, fs.ErrNotExist)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// clearStale leaves the way free for bind: nothing at the path, or a stale
// socket that it removes. The caller holds the directory lock.
func clearStale(ctx context.Context, a Addr) error {
	path := a.Path()
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return &NotSocketError{Path: path, Kind: describeFile(path, fi)}
	}
	live, err := isLive(ctx, a)
	if err != nil {
		return fmt.Errorf("cannot tell whether %s is stale: %w", path, err)
	}
	if live {
		return ErrInUse
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// staleCheckTimeout bounds the connect that tells a live socket from a
// stale one; a live listener whose backlog is full answers at once too.
const staleCheckTimeout = time.Second

// isLive connects to the socket file: refused means no one listens (stale).
// A socket of another type answers EPROTOTYPE, so it is live too.
func isLive(ctx context.Context, a Addr) (bool, error) {
	d := net.Dialer{Timeout: staleCheckTimeout}
	c, err := d.DialContext(ctx, a.Net, a.Name)
	switch {
	case err == nil:
		c.Close()
		return true, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case isLiveErr(err):
		return true, nil
	}
	return false, err
}

// setOwnerAndMode sets owner and group, then the full mode, on the file that
// bind just created, and returns it as owned.
func setOwnerAndMode(path string, uid, gid int, mode os.FileMode) (*ownedFile, error) {
	if uid != -1 || gid != -1 {
		if err := os.Lchown(path, uid, gid); err != nil {
			return nil, fmt.Errorf("set owner and group: %w", err)
		}
	}
	if mode != 0 {
		if err := os.Chmod(path, mode.Perm()); err != nil {
			return nil, fmt.Errorf("set mode: %w", err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	return &ownedFile{path: path, info: fi}, nil
}

// ownedFile is a socket file that a listener created, to be removed by it
// and only while the path still names it.
type ownedFile struct {
	path string
	info os.FileInfo
	once sync.Once
	err  error
}

// remove unlinks the file if the path still names the file we created; a
// nil ownedFile has nothing to remove. It holds the directory lock so that a
// successor cannot bind between the check and the unlink.
func (f *ownedFile) remove() error {
	if f == nil {
		return nil
	}
	f.once.Do(func() {
		unlock, err := LockDir(filepath.Dir(f.path))
		if errors.Is(err, fs.ErrNotExist) {
			return // the directory is gone, and the file with it
		}
		if err != nil {
			f.err = err
			return
		}
		defer unlock()
		fi, err := os.Lstat(f.path)
		if err != nil || !os.SameFile(fi, f.info) {
			return // gone, or a successor's: not ours to remove
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.err = fmt.Errorf("remove socket file: %w", err)
		}
	})
	return f.err
}

// describeFile names what a non-socket file is, for error messages.
func describeFile(path string, fi os.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case t == 0:
		return "regular file"
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeSymlink != 0:
		if target, err := os.Readlink(path); err == nil {
			return "symlink to " + target
		}
		return "symlink"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	}
	return "file of mode " + fi.Mode().String()
}

// lookupUser resolves a user name or uid; "" and "-1" mean keep (-1).
func lookupUser(s string) (int, error) {
	if s == "" || s == "-1" {
		return -1, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, fmt.Errorf("owner: %w", err)
	}
	return strconv.Atoi(u.Uid)
}

// lookupGroup resolves a group name or gid; "" and "-1" mean keep (-1).
func lookupGroup(s string) (int, error) {
	if s == "" || s == "-1" {
		return -1, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("group: %w", err)
	}
	return strconv.Atoi(g.Gid)
}
