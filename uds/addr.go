package uds

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Networks that ParseAddr accepts, as the net package names them.
const (
	Unix       = "unix"       // stream
	UnixPacket = "unixpacket" // sequenced packets
	UnixGram   = "unixgram"   // datagrams
	TCP        = "tcp"
	UDP        = "udp"
)

// ErrUnsupported reports that this platform lacks what an address or an
// option needs (the abstract namespace, unixpacket, owner changes). Errors
// that wrap it are usage errors: no retry will help.
var ErrUnsupported = errors.New("not supported on " + platform)

// ErrUnknownNetwork reports an address prefix that is none of the networks
// above.
var ErrUnknownNetwork = errors.New("unknown network type (want unix, unixpacket, unixgram, tcp or udp)")

// Addr is a parsed socket address: a network and, for Unix networks, a
// file-system path or an abstract name starting with '@'; for tcp and udp a
// host:port.
type Addr struct {
	Net  string
	Name string
}

// AddrError reports an address that is malformed or that this platform
// cannot serve. It is an error in the input, not in the system.
type AddrError struct {
	Addr string // the address as given
	Err  error
}

func (e *AddrError) Error() string { return fmt.Sprintf("address %q: %v", e.Addr, e.Err) }

// Unwrap returns the reason.
func (e *AddrError) Unwrap() error { return e.Err }

// PathTooLongError reports a socket path longer than the kernel accepts in a
// sockaddr_un.
type PathTooLongError struct {
	Path string
	Len  int // length of Path in bytes
	Max  int // the kernel's limit in bytes (one more for an abstract name, which has no NUL)
}

func (e *PathTooLongError) Error() string {
	return fmt.Sprintf("socket path is %d bytes, over the kernel's limit of %d: %s", e.Len, e.Max, e.Path)
}

// ParseAddr parses an address string (see the package doc). It checks what
// can be checked without touching the file system: the network type, the
// length of a path against the kernel's limit, and whether this platform has
// the abstract namespace and unixpacket. Errors are *AddrError or
// *PathTooLongError.
func ParseAddr(s string) (Addr, error) {
	a, err := splitAddr(s)
	if err != nil {
		return Addr{}, &AddrError{Addr: s, Err: err}
	}
	if err := a.check(); err != nil {
		var tooLong *PathTooLongError
		if errors.As(err, &tooLong) {
			return Addr{}, err
		}
		return Addr{}, &AddrError{Addr: s, Err: err}
	}
	return a, nil
}

// MustParseAddr is like ParseAddr but panics on error. It is for addresses
// written into programs and tests.
func MustParseAddr(s string) Addr {
	a, err := ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

func splitAddr(s string) (Addr, error) {
	switch {
	case s == "":
		return Addr{}, errors.New("empty address")
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"), strings.HasPrefix(s, "@"):
		return Addr{Net: Unix, Name: s}, nil
	}
	network, name, ok := strings.Cut(s, ":")
	if !ok {
		return Addr{}, errors.New("no network type: write unix:PATH, ./PATH or /PATH for a socket file, tcp:HOST:PORT for TCP")
	}
	switch network {
	case Unix, UnixPacket, UnixGram, TCP, UDP:
	default:
		return Addr{}, fmt.Errorf("%q: %w", network, ErrUnknownNetwork)
	}
	if name == "" {
		return Addr{}, fmt.Errorf("no path or host after %q", network+":")
	}
	return Addr{Net: network, Name: name}, nil
}

func (a Addr) check() error {
	switch a.Net {
	case TCP, UDP:
		// SplitHostPort, not a search for ':', so that "[::1]" without a
		// port is refused too.
		if _, port, err := net.SplitHostPort(a.Name); err != nil || port == "" {
			return errors.New("want HOST:PORT")
		}
		return nil
	case UnixPacket:
		if !hasUnixPacket {
			return fmt.Errorf("unixpacket (SOCK_SEQPACKET) sockets: %w", ErrUnsupported)
		}
	}
	if a.IsAbstract() {
		if !hasAbstract {
			return fmt.Errorf("the abstract namespace (@name): %w", ErrUnsupported)
		}
		if len(a.Name) == 1 {
			return errors.New("empty abstract name after '@'")
		}
		// An abstract name has no terminating NUL: its leading NUL, written
		// here as '@', and the name fill all of sun_path (unix(7)).
		if len(a.Name) > maxPathLen+1 {
			return &PathTooLongError{Path: a.Name, Len: len(a.Name), Max: maxPathLen + 1}
		}
		return nil
	}
	if len(a.Name) > maxPathLen {
		return &PathTooLongError{Path: a.Name, Len: len(a.Name), Max: maxPathLen}
	}
	return nil
}

// String returns the address in the form ParseAddr reads: "unix:/run/x.sock".
func (a Addr) String() string { return a.Net + ":" + a.Name }

// IsUnix reports whether the address is a Unix domain socket of any type.
func (a Addr) IsUnix() bool { return a.Net == Unix || a.Net == UnixPacket || a.Net == UnixGram }

// IsAbstract reports whether the address is in the Linux abstract namespace:
// it has no file, so no mode, owner or cleanup.
func (a Addr) IsAbstract() bool { return a.IsUnix() && strings.HasPrefix(a.Name, "@") }

// Path returns the socket file's path, or "" for abstract and network
// addresses.
func (a Addr) Path() string {
	if !a.IsUnix() || a.IsAbstract() {
		return ""
	}
	return a.Name
}

// IsDatagram reports whether the network is connectionless (unixgram, udp):
// such addresses are served with ListenPacket, the others with Listen.
func (a Addr) IsDatagram() bool { return a.Net == UnixGram || a.Net == UDP }
