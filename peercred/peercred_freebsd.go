package peercred

import (
	"fmt"
	"unsafe"
)

// OOBSize is 0 on FreeBSD: its per-datagram credentials (LOCAL_CREDS and
// SCM_CREDS) are not implemented here.
const OOBSize = 0

// xucredVersion is XUCRED_VERSION in <sys/ucred.h>: the layout we read.
const xucredVersion = 0

// fillFromFD reads LOCAL_PEERCRED: like Linux's SO_PEERCRED it describes the peer
// as it was when it connected (see the package doc). The pid comes from
// the same struct, since FreeBSD 13.
func fillFromFD(fd int, c *Cred) error {
	xu, err := readXucred(fd, c)
	if err != nil {
		return err
	}
	// struct xucred ends in a pointer-sized union of cr_pid and an unused
	// pointer; x/sys leaves it unnamed, so read the pid_t at its start (the
	// same offset on either byte order). Kernels before FreeBSD 13 leave it
	// zero: pid unknown.
	pid := *(*int32)(unsafe.Add(unsafe.Pointer(xu), unsafe.Sizeof(*xu)-unsafe.Sizeof(uintptr(0))))
	if pid > 0 {
		c.pid, c.pidOK = int(pid), true
	}
	return nil
}

func setPassCred(fd int) error {
	return fmt.Errorf("per-datagram credentials (LOCAL_CREDS): %w", ErrNotImplemented)
}

func fromOOB(oob []byte) (*Cred, error) {
	return nil, fmt.Errorf("per-datagram credentials (SCM_CREDS): %w", ErrNotImplemented)
}
