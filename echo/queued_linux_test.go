package echo_test

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// waitQueued blocks until at least n bytes are queued for reading on c, as
// SIOCINQ counts them (for Unix stream and seqpacket sockets, all queued
// bytes: unix_inq_len in net/unix/af_unix.c). It waits on the poller, not
// on a clock: RawConn.Read calls the check again each time data arrives.
func waitQueued(t *testing.T, c net.Conn, n int) {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ioctlErr error
	err = raw.Read(func(fd uintptr) bool {
		queued, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err != nil {
			ioctlErr = err
			return true
		}
		return queued >= n
	})
	if err == nil {
		err = ioctlErr
	}
	if err != nil {
		t.Fatalf("waiting for %d bytes to be queued: %v", n, err)
	}
}
