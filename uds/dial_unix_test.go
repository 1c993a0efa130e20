//go:build unix

package uds

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDialEveryType: Dial reaches a uds listener of each type and the echo
// comes back; for unixgram the server sees a reply address (Dial binds one).
func TestDialEveryType(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			address := network + ":" + filepath.Join(shortDir(t), "s.sock")
			srv := mustListen(t, ListenConfig{}, address)
			assertRoundTrip(t, srv, address)
			assertRoundTrip(t, srv, address) // and again, on a new connection
		})
	}
}

// TestDialNothingThere: a missing path is fs.ErrNotExist, a stale socket is
// ECONNREFUSED, an address of the wrong type is EPROTOTYPE: dial never
// pretends to connect.
func TestDialNothingThere(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			if _, err := Dial(context.Background(), network+":"+filepath.Join(dir, "missing.sock")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("dial a missing path: %v, want fs.ErrNotExist", err)
			}
			stale := filepath.Join(dir, "stale.sock")
			makeStale(t, network, stale)
			if _, err := Dial(context.Background(), network+":"+stale); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dial a stale socket: %v, want ECONNREFUSED", err)
			}
			for _, other := range unixNets() {
				if other == network {
					continue
				}
				path := filepath.Join(dir, other+".sock")
				mustListen(t, ListenConfig{}, other+":"+path)
				if c, err := Dial(context.Background(), network+":"+path); !errors.Is(err, syscall.EPROTOTYPE) {
					if c != nil {
						c.Close()
					}
					t.Errorf("dial %s to a %s socket: %v, want EPROTOTYPE", network, other, err)
				}
			}
		})
	}
}

// TestDialBadAddress: Dial parses like ParseAddr.
func TestDialBadAddress(t *testing.T) {
	var ae *AddrError
	if _, err := Dial(context.Background(), "sctp:/x"); !errors.As(err, &ae) || !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("Dial(sctp:/x): %v, want *AddrError wrapping ErrUnknownNetwork", err)
	}
}
