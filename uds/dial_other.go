//go:build !linux

package uds

import (
	"context"
	"net"
	"os"
	"path/filepath"
)

// dialUnixgram binds the client to a socket file in a private temporary
// directory (mode 0700), since this platform has no autobind; Close removes
// the file and the directory.
func dialUnixgram(ctx context.Context, a Addr) (net.Conn, error) {
	dir, err := os.MkdirTemp("", "udsgate-")
	if err != nil {
		return nil, err
	}
	local := &net.UnixAddr{Name: filepath.Join(dir, "c.sock"), Net: UnixGram}
	d := net.Dialer{LocalAddr: local}
	c, err := d.DialContext(ctx, a.Net, a.Name)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &tempBoundConn{UnixConn: c.(*net.UnixConn), dir: dir}, nil
}

// tempBoundConn is a datagram connection bound to a temporary file.
type tempBoundConn struct {
	*net.UnixConn
	dir string
}

func (c *tempBoundConn) Close() error {
	err := c.UnixConn.Close()
	os.RemoveAll(c.dir)
	return err
}
