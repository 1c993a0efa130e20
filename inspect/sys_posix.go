//go:build linux || darwin || freebsd

package inspect

import (
	"errors"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileOwner returns the owner and group of a file from its Lstat result.
func fileOwner(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, false
	}
	return int(st.Uid), int(st.Gid), true
}

// mayConnect reports whether the caller's effective uid, gid and groups may
// connect to the socket at path: connect(2) needs write permission on the
// socket file and search permission on every directory above it (unix(7)),
// which is what faccessat(2) with W_OK and AT_EACCESS checks. ok is false
// when the check itself failed.
func mayConnect(path string) (may, ok bool) {
	// Linux's faccessat never answers EROFS for a socket (sb_permission in
	// fs/namei.c checks only files, directories and symlinks), so a socket
	// on a read-only mount is judged by its bits, as connect(2) judges it.
	err := unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK, unix.AT_EACCESS)
	switch {
	case err == nil:
		return true, true
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return false, true
	}
	return false, false
}

// connectOutcome classifies the error of a test connect(2).
func connectOutcome(err error) outcome {
	switch {
	case err == nil:
		return outcomeConnected
	case errors.Is(err, unix.ECONNREFUSED):
		return outcomeRefused
	case errors.Is(err, unix.EPROTOTYPE):
		return outcomeWrongType
	case errors.Is(err, unix.EAGAIN):
		// A listener whose backlog is full: live, just busy.
		return outcomeConnected
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return outcomeDenied
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return outcomeGone
	}
	return outcomeOther
}
