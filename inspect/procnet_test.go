package inspect

import (
	"reflect"
	"strings"
	"testing"
)

// A /proc/net/unix as Linux 6.x writes it: a stream listener with two
// connections (one accepted, one still in the queue), a seqpacket listener,
// a bound datagram socket, an abstract listener, an autobound datagram
// client connected to a server, an unbound socket, a path with a space, and
// lines that do not parse.
const procNetUnixSample = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 30001 /run/app.sock
0000000000000000: 00000003 00000000 00000000 0001 03 30002 /run/app.sock
0000000000000000: 00000002 00000000 00000000 0001 02 30003 /run/app.sock
0000000000000000: 00000003 00000000 00000000 0001 03 30004
0000000000000000: 00000002 00000000 00010000 0005 01 30005 /run/packet.sock
0000000000000000: 00000002 00000000 00000000 0002 01 30006 /run/gram.sock
0000000000000000: 00000002 00000000 00010000 0001 01 30007 @abstract/name
0000000000000000: 00000002 00000000 00000000 0002 03 30008 @00042
0000000000000000: 00000002 00000000 00000000 0001 01  1458
0000000000000000: 00000002 00000000 00010000 0001 01 30009 /tmp/with space.sock
 and the rest of a path with a newline
garbage
0000000000000000: 00000002 00000000 0001000Z 0001 01 30010 /bad/flags
`

func TestParseProcNetUnixReadsListenersConnectionsAndNames(t *testing.T) {
	got, err := parseProcNetUnix(strings.NewReader(procNetUnixSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []sockEntry{
		{Inode: 30001, Type: Stream, Listening: true, Name: "/run/app.sock"},
		{Inode: 30002, Type: Stream, Connected: true, Name: "/run/app.sock"},
		{Inode: 30003, Type: Stream, Connected: true, Name: "/run/app.sock"},
		{Inode: 30004, Type: Stream, Connected: true},
		{Inode: 30005, Type: SeqPacket, Listening: true, Name: "/run/packet.sock"},
		{Inode: 30006, Type: Datagram, Listening: true, Name: "/run/gram.sock"},
		{Inode: 30007, Type: Stream, Listening: true, Name: "@abstract/name"},
		{Inode: 30008, Type: Datagram, Connected: true, Name: "@00042"},
		{Inode: 1458, Type: Stream},
		{Inode: 30009, Type: Stream, Listening: true, Name: "/tmp/with space.sock"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parse:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestParseSocketTypeAcceptsNetworkAndKindNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SocketType
		ok   bool
	}{
		{"unix", Stream, true},
		{"stream", Stream, true},
		{"unixpacket", SeqPacket, true},
		{"seqpacket", SeqPacket, true},
		{"unixgram", Datagram, true},
		{"datagram", Datagram, true},
		{"dgram", Datagram, true},
		{"tcp", 0, false},
		{"", 0, false},
	} {
		got, err := ParseSocketType(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseSocketType(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.Network() == "" {
			t.Errorf("%v has no network name", got)
		}
	}
}
