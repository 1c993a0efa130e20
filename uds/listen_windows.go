package uds

import (
	"os"
	"syscall"
)

// Windows has no chown for socket files and no flock(2): owner and group
// options fail with ErrUnsupported, and the stale check is not serialized
// between processes.
const hasChown = false

func fchmodBeforeBind(os.FileMode) func(network, address string, c syscall.RawConn) error {
	return nil
}

// LockDir does nothing on Windows, which has no flock(2).
func LockDir(string) (func(), error) { return func() {}, nil }

func isLiveErr(error) bool { return false }
