//go:build !linux

package inspect

import "context"

// readSockTable fails: the table of sockets is Linux's /proc/net/unix, and
// this platform has none.
func readSockTable() ([]sockEntry, error) { return nil, ErrUnsupported }

// processesOf finds nothing: without /proc there is no portable way to learn
// which process holds a socket.
func processesOf(context.Context, map[uint64]bool) map[uint64][]Process { return nil }
