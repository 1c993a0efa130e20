//go:build darwin || freebsd

package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// readXucred reads LOCAL_PEERCRED, retried on EINTR, and fills c's ids and
// groups from it; it returns the xucred for what else the platform keeps
// in it.
func readXucred(fd int, c *Cred) (*unix.Xucred, error) {
	var xu *unix.Xucred
	var err error
	for {
		xu, err = unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.ENOTCONN {
		return nil, fmt.Errorf("getsockopt LOCAL_PEERCRED: %w: %w", ErrNoCredentials, err)
	}
	if err != nil {
		return nil, fmt.Errorf("getsockopt LOCAL_PEERCRED: %w", err)
	}
	return xu, fillFromXucred(c, xu.Version, xu.Uid, int(xu.Ngroups), xu.Groups[:])
}

// fillFromXucred fills c from the fields of a struct xucred, which macOS and
// FreeBSD share: cr_groups[0] is the effective gid and the rest are the
// supplementary groups, at most XU_NGROUPS (16) in all, so a peer in more
// groups is reported with the first ones only.
func fillFromXucred(c *Cred, version, uid uint32, ngroups int, groups []uint32) error {
	if version != xucredVersion {
		return fmt.Errorf("LOCAL_PEERCRED: xucred version %d, want %d", version, xucredVersion)
	}
	if ngroups < 1 || ngroups > len(groups) {
		return fmt.Errorf("LOCAL_PEERCRED: %d groups in xucred (want 1 to %d)", ngroups, len(groups))
	}
	c.UID, c.GID = int(uid), int(groups[0])
	sup := groups[1:ngroups]
	c.groups = c.inline[:len(sup):len(sup)] // len(sup) < 16 = len(c.inline)
	for i, g := range sup {
		c.groups[i] = int(g)
	}
	c.groupsOK, c.groupsSource = true, sourceLocalCred
	return nil
}
