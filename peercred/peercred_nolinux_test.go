//go:build !linux

package peercred

// childMain: the tests that start child processes are Linux-only.
func childMain(mode, addr string) int { return 2 }
