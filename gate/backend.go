package gate

import (
	"errors"
	"fmt"

	"github.com/udsgate/udsgate/uds"
)

// Built-in backends.
const (
	// BuiltinEcho echoes what it gets.
	BuiltinEcho = "echo"
	// BuiltinWhoami writes what the gate saw and decided as one JSON line
	// (see Whoami), then closes.
	BuiltinWhoami = "whoami"
)

// Backend is where a gate sends allowed peers: a socket address, or one of
// the built-ins.
type Backend struct {
	Builtin string   // BuiltinEcho or BuiltinWhoami, or "" for Addr
	Addr    uds.Addr // the service's address when Builtin is ""
}

// ParseBackend parses "echo", "whoami", or an address that uds.ParseAddr
// reads ("unix:/run/svc.sock", "unixpacket:/x", "tcp:127.0.0.1:80",
// "unixgram:/x").
func ParseBackend(s string) (Backend, error) {
	switch s {
	case BuiltinEcho, BuiltinWhoami:
		return Backend{Builtin: s}, nil
	case "":
		return Backend{}, &uds.AddrError{Addr: s, Err: errors.New("no backend")}
	}
	a, err := uds.ParseAddr(s)
	if err != nil {
		return Backend{}, err
	}
	return Backend{Addr: a}, nil
}

// String returns the backend as ParseBackend reads it.
func (b Backend) String() string {
	if b.Builtin != "" {
		return b.Builtin
	}
	return b.Addr.String()
}

// checkPair reports a listen address and a backend that cannot be bridged:
// a datagram gate needs a datagram backend and the other way round.
func checkPair(listen uds.Addr, b Backend) error {
	if b.Builtin != "" {
		return nil
	}
	if listen.IsDatagram() != b.Addr.IsDatagram() {
		return &uds.AddrError{Addr: b.String(), Err: fmt.Errorf("cannot bridge %s to %s: a datagram gate needs a datagram backend and a stream gate a stream one", listen.Net, b.Addr.Net)}
	}
	return nil
}
