package echo_test

import (
	"io"
	"path/filepath"
	"testing"
)

// The benchmarks measure one round trip of a 4-byte "ping" per op through
// the echo server of each socket type, over one connection to a server
// started once per benchmark, so that their ns/op compare the types as the
// chapter does: Unix sockets skip the network stack.

func BenchmarkEchoServerUnix(b *testing.B) {
	benchmarkEcho(b, "unix:"+filepath.Join(sockDir(b), "e.sock"))
}

func BenchmarkEchoServerUnixPacket(b *testing.B) {
	benchmarkEcho(b, "unixpacket:"+filepath.Join(sockDir(b), "e.sock"))
}

func BenchmarkEchoServerUnixDatagram(b *testing.B) {
	benchmarkEcho(b, "unixgram:"+filepath.Join(sockDir(b), "e.sock"))
}

func BenchmarkEchoServerTCP(b *testing.B) {
	benchmarkEcho(b, "tcp:127.0.0.1:0")
}

func BenchmarkEchoServerUDP(b *testing.B) {
	benchmarkEcho(b, "udp:127.0.0.1:0")
}

func benchmarkEcho(b *testing.B, address string) {
	s := startServer(b, address)
	c := dial(b, s.addr)
	ping := []byte("ping")
	reply := make([]byte, len(ping))
	for b.Loop() {
		if _, err := c.Write(ping); err != nil {
			b.Fatal(err)
		}
		// ReadFull: on a stream the four bytes could come in two reads;
		// on the message types one read returns the whole reply.
		if _, err := io.ReadFull(c, reply); err != nil {
			b.Fatal(err)
		}
	}
}
