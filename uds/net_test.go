package uds

import (
	"context"
	"errors"
	"testing"
)

// TestListenNetworkAddresses: tcp and udp go through the same Listen,
// ListenPacket and Dial, with no file to manage.
func TestListenNetworkAddresses(t *testing.T) {
	for _, address := range []string{"tcp:127.0.0.1:0", "udp:127.0.0.1:0"} {
		t.Run(address, func(t *testing.T) {
			srv := mustListen(t, ListenConfig{}, address)
			var bound string
			switch s := srv.(type) {
			case *Listener:
				bound = s.Addr().String()
			case *PacketConn:
				bound = s.LocalAddr().String()
			}
			a := MustParseAddr(address)
			assertRoundTrip(t, srv, a.Net+":"+bound)
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestListenNetworkAddressRefusesFileOptions: mode, owner and group need a
// socket file.
func TestListenNetworkAddressRefusesFileOptions(t *testing.T) {
	for _, lc := range []ListenConfig{{Mode: 0o600}, {Owner: "0"}, {Group: "0"}} {
		var ae *AddrError
		if _, err := lc.Listen(context.Background(), "tcp:127.0.0.1:0"); !errors.As(err, &ae) {
			t.Errorf("%+v on tcp: %v, want *AddrError", lc, err)
		}
	}
	// "-1" is the same as "": keep, so it is no file option.
	lc := ListenConfig{Owner: "-1", Group: "-1"}
	l, err := lc.Listen(context.Background(), "tcp:127.0.0.1:0")
	if err != nil {
		t.Fatalf("Owner and Group -1 on tcp: %v", err)
	}
	l.Close()
}
