//go:build !linux && !darwin && !freebsd

package peercred

import "fmt"

// OOBSize is 0 where there are no per-datagram credentials.
const OOBSize = 0

func fillFromFD(fd int, c *Cred) error {
	return fmt.Errorf("no SO_PEERCRED, LOCAL_PEERCRED or equivalent: %w", ErrNotImplemented)
}

func setPassCred(fd int) error {
	return fmt.Errorf("no per-datagram credentials (SO_PASSCRED): %w", ErrNotImplemented)
}

func fromOOB(oob []byte) (*Cred, error) {
	return nil, fmt.Errorf("no per-datagram credentials (SCM_CREDENTIALS): %w", ErrNotImplemented)
}
