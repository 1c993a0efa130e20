//go:build !linux && !darwin && !freebsd

package inspect

import (
	"errors"
	"io/fs"
)

// fileOwner cannot tell: this platform's file information has no portable
// uid and gid.
func fileOwner(fs.FileInfo) (uid, gid int, ok bool) { return -1, -1, false }

// mayConnect cannot tell: this platform has no faccessat(2) with AT_EACCESS.
func mayConnect(string) (may, ok bool) { return false, false }

// connectOutcome knows only the portable errors here; a refused connection
// is not among them, so a stale socket probes as StateUnknown.
func connectOutcome(err error) outcome {
	switch {
	case err == nil:
		return outcomeConnected
	case errors.Is(err, fs.ErrPermission):
		return outcomeDenied
	case errors.Is(err, fs.ErrNotExist):
		return outcomeGone
	}
	return outcomeOther
}
