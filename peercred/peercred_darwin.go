package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// OOBSize is 0 on macOS, which has no per-datagram credentials here.
const OOBSize = 0

// xucredVersion is XUCRED_VERSION in <sys/ucred.h>: the layout we read.
const xucredVersion = 0

// fillFromFD reads LOCAL_PEERCRED: like Linux's SO_PEERCRED it describes the peer
// as it was when it connected (see the package doc). The pid comes from
// LOCAL_PEERPID.
func fillFromFD(fd int, c *Cred) error {
	_, err := readXucred(fd, c)
	if err != nil {
		return err
	}
	var pid int
	for {
		pid, err = unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		if err != unix.EINTR {
			break
		}
	}
	// LOCAL_PEERPID is there since macOS 10.8; without it the pid is
	// unknown, which Cred can say.
	if err == nil && pid > 0 {
		c.pid, c.pidOK = pid, true
	}
	return nil
}

func setPassCred(fd int) error {
	return fmt.Errorf("per-datagram credentials (SO_PASSCRED): %w", ErrNotImplemented)
}

func fromOOB(oob []byte) (*Cred, error) {
	return nil, fmt.Errorf("per-datagram credentials (SCM_CREDENTIALS): %w", ErrNotImplemented)
}
