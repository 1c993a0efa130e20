package uds

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// dialUnixgram connects a datagram socket with SO_PASSCRED set, which makes
// connect(2) autobind it to an abstract name (unix(7), "Autobind feature"):
// the server sees a reply address, and there is no file to clean up.
func dialUnixgram(ctx context.Context, a Addr) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	return d.DialContext(ctx, a.Net, a.Name)
}
