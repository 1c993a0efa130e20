//go:build !linux && !darwin && !freebsd

package peercred

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

func TestGetIsNotImplementedHere(t *testing.T) {
	dir := shortTempDir(t)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Skipf("no Unix sockets here: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Get(c); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("Get error = %v, want ErrNotImplemented", err)
	}
}
