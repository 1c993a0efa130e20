package uds

import (
	"context"
	"net"
)

// Dial connects to an address (see ParseAddr). For unixgram it also binds a
// local address of its own, so that the server can reply: an autobound
// abstract name on Linux, elsewhere a socket file in a private temporary
// directory that Close removes.
func Dial(ctx context.Context, address string) (net.Conn, error) {
	a, err := ParseAddr(address)
	if err != nil {
		return nil, err
	}
	return DialAddr(ctx, a)
}

// DialAddr is Dial for a parsed address.
func DialAddr(ctx context.Context, a Addr) (net.Conn, error) {
	if a.Net == UnixGram {
		return dialUnixgram(ctx, a)
	}
	var d net.Dialer
	return d.DialContext(ctx, a.Net, a.Name)
}
