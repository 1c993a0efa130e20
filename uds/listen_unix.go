//go:build unix

package uds

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const hasChown = true

// fchmodBeforeBind returns a net.ListenConfig.Control that sets the socket's
// own mode before bind, so that the file bind creates starts with it.
func fchmodBeforeBind(mode os.FileMode) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = unix.Fchmod(int(fd), uint32(mode.Perm()))
		}); cerr != nil {
			return cerr
		}
		if err != nil {
			return fmt.Errorf("fchmod socket before bind: %w", err)
		}
		return nil
	}
}

// LockDir takes the exclusive flock(2) on dir under which Listen checks,
// clears and binds a socket path, and Close removes one, and returns its
// release. Another program that removes socket files in dir (a cleaner)
// takes it too, so that it cannot remove a socket being bound. flock on a
// directory needs no lock file, so nothing is left behind; it needs read
// permission on dir.
func LockDir(dir string) (unlock func(), err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock directory %s: %w", dir, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock directory %s: %w", dir, err)
	}
	return func() { unix.Close(fd) }, nil // closing the last descriptor releases the lock
}

// isLiveErr reports connect errors that mean something is bound and
// listening: a socket of another type (EPROTOTYPE), a full backlog (EAGAIN).
func isLiveErr(err error) bool {
	return errors.Is(err, unix.EPROTOTYPE) || errors.Is(err, unix.EAGAIN)
}
