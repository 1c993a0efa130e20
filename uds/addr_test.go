package uds

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddrAcceptsEveryForm(t *testing.T) {
	long := "/" + strings.Repeat("p", maxPathLen-1) // exactly the limit
	tests := []struct {
		in       string
		want     Addr
		path     string // want Path()
		abstract bool
		datagram bool
		needs    bool // false: this platform lacks it, want ErrUnsupported
	}{
		{in: "unix:/run/x.sock", want: Addr{Unix, "/run/x.sock"}, path: "/run/x.sock", needs: true},
		{in: "unixpacket:/run/x.sock", want: Addr{UnixPacket, "/run/x.sock"}, path: "/run/x.sock", needs: hasUnixPacket},
		{in: "unixgram:/run/x.sock", want: Addr{UnixGram, "/run/x.sock"}, path: "/run/x.sock", datagram: true, needs: true},
		{in: "/run/x.sock", want: Addr{Unix, "/run/x.sock"}, path: "/run/x.sock", needs: true},
		{in: "./x.sock", want: Addr{Unix, "./x.sock"}, path: "./x.sock", needs: true},
		{in: "../x.sock", want: Addr{Unix, "../x.sock"}, path: "../x.sock", needs: true},
		{in: "unix:rel/x.sock", want: Addr{Unix, "rel/x.sock"}, path: "rel/x.sock", needs: true},
		{in: "unix:" + long, want: Addr{Unix, long}, path: long, needs: true},
		{in: "unix:@name", want: Addr{Unix, "@name"}, abstract: true, needs: hasAbstract},
		{in: "@name", want: Addr{Unix, "@name"}, abstract: true, needs: hasAbstract},
		{in: "unixgram:@name", want: Addr{UnixGram, "@name"}, abstract: true, datagram: true, needs: hasAbstract},
		{in: "unixpacket:@name", want: Addr{UnixPacket, "@name"}, abstract: true, needs: hasAbstract && hasUnixPacket},
		{in: "tcp:127.0.0.1:8080", want: Addr{TCP, "127.0.0.1:8080"}, needs: true},
		{in: "tcp:[::1]:8080", want: Addr{TCP, "[::1]:8080"}, needs: true},
		{in: "tcp::8080", want: Addr{TCP, ":8080"}, needs: true},
		{in: "tcp:localhost:http", want: Addr{TCP, "localhost:http"}, needs: true},
		{in: "udp:localhost:53", want: Addr{UDP, "localhost:53"}, datagram: true, needs: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if !tt.needs {
				var ae *AddrError
				if !errors.As(err, &ae) || !errors.Is(err, ErrUnsupported) {
					t.Fatalf("ParseAddr(%q) = %v, %v; want an *AddrError wrapping ErrUnsupported on %s", tt.in, got, err, platform)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddr(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseAddr(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if got.Path() != tt.path {
				t.Errorf("Path() = %q, want %q", got.Path(), tt.path)
			}
			if got.IsAbstract() != tt.abstract {
				t.Errorf("IsAbstract() = %v, want %v", got.IsAbstract(), tt.abstract)
			}
			if got.IsDatagram() != tt.datagram {
				t.Errorf("IsDatagram() = %v, want %v", got.IsDatagram(), tt.datagram)
			}
			if wantUnix := tt.want.Net != TCP && tt.want.Net != UDP; got.IsUnix() != wantUnix {
				t.Errorf("IsUnix() = %v, want %v", got.IsUnix(), wantUnix)
			}
			// String is the canonical form, and ParseAddr reads it back.
			if again, err := ParseAddr(got.String()); err != nil || again != got {
				t.Errorf("ParseAddr(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseAddrRejectsBadInput(t *testing.T) {
	tests := []struct {
		in   string
		want error // a sentinel the error must wrap, or nil for any *AddrError
	}{
		{in: ""},
		{in: "x.sock"}, // no network and not a path
		{in: "unix"},   // a network with nothing after it
		{in: "unix:"},  // no path
		{in: "tcp:"},   // no host:port
		{in: "@"},      // empty abstract name (or no abstract namespace)
		{in: "unix:@"}, // same, with the prefix
		{in: "unixgram:@"},
		{in: "tcp:localhost"},  // no port
		{in: "tcp:[::1]"},      // brackets but no port
		{in: "udp:localhost:"}, // empty port
		{in: "sctp:/x.sock", want: ErrUnknownNetwork},
		{in: "Unix:/x.sock", want: ErrUnknownNetwork}, // networks are lower case, as in package net
		{in: "http://example.com", want: ErrUnknownNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			var ae *AddrError
			if !errors.As(err, &ae) {
				t.Fatalf("ParseAddr(%q) = %#v, %v; want an *AddrError", tt.in, got, err)
			}
			if ae.Addr != tt.in {
				t.Errorf("AddrError.Addr = %q, want %q", ae.Addr, tt.in)
			}
			if !strings.Contains(err.Error(), `"`+tt.in+`"`) {
				t.Errorf("error %q does not name the address", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("ParseAddr(%q) = %v; want it to wrap %v", tt.in, err, tt.want)
			}
			if got != (Addr{}) {
				t.Errorf("ParseAddr(%q) returned %#v with its error", tt.in, got)
			}
		})
	}
}

func TestParseAddrPathOverLimitIsPathTooLong(t *testing.T) {
	path := "/" + strings.Repeat("p", maxPathLen) // one byte over
	for _, in := range []string{path, "unix:" + path, "unixgram:" + path} {
		_, err := ParseAddr(in)
		var tl *PathTooLongError
		if !errors.As(err, &tl) {
			t.Fatalf("ParseAddr(%d-byte path) = %v, want *PathTooLongError", len(path), err)
		}
		if tl.Len != len(path) || tl.Max != maxPathLen || tl.Path != path {
			t.Errorf("PathTooLongError{Len: %d, Max: %d}, want {Len: %d, Max: %d}", tl.Len, tl.Max, len(path), maxPathLen)
		}
		for _, s := range []string{"108", "107"} {
			if maxPathLen == 107 && !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %s", err, s)
			}
		}
	}
}

func TestMustParseAddrPanicsOnBadInput(t *testing.T) {
	if got := MustParseAddr("unix:/x.sock"); got != (Addr{Unix, "/x.sock"}) {
		t.Errorf("MustParseAddr = %#v", got)
	}
	defer func() {
		err, _ := recover().(error)
		var ae *AddrError
		if !errors.As(err, &ae) {
			t.Errorf("MustParseAddr(\"\") panicked with %v, want an *AddrError", err)
		}
	}()
	MustParseAddr("")
}
