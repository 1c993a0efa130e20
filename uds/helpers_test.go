package uds

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// ioTimeout bounds every read and write in the tests, so that a broken
// server fails the test instead of hanging it. It is a deadline, not a wait:
// a working server answers at once.
const ioTimeout = 10 * time.Second

// listenAny listens with Listen or ListenPacket, as the address's network
// wants.
func listenAny(ctx context.Context, lc ListenConfig, address string) (io.Closer, error) {
	a, err := ParseAddr(address)
	if err != nil {
		return nil, err
	}
	if a.IsDatagram() {
		pc, err := lc.ListenPacket(ctx, address)
		if err != nil {
			return nil, err
		}
		return pc, nil
	}
	l, err := lc.Listen(ctx, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// mustListen is listenAny that fails the test on error and closes the
// listener at the end of the test.
func mustListen(t *testing.T, lc ListenConfig, address string) io.Closer {
	t.Helper()
	srv, err := listenAny(context.Background(), lc, address)
	if err != nil {
		t.Fatalf("listen %s: %v", address, err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

type deadliner interface{ SetDeadline(time.Time) error }

// assertRoundTrip dials address and checks that srv, a *Listener or
// *PacketConn listening there, receives "ping" and that its echo comes back.
// For datagrams it also checks that the server sees a reply address.
func assertRoundTrip(t *testing.T, srv io.Closer, address string) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	done := make(chan error, 1)
	var wake func() // makes the server give up at once
	switch s := srv.(type) {
	case *Listener:
		dl, ok := s.Listener.(deadliner)
		if !ok {
			t.Fatalf("%T has no SetDeadline", s.Listener)
		}
		dl.SetDeadline(deadline)
		defer dl.SetDeadline(time.Time{})
		wake = func() { dl.SetDeadline(time.Now()) }
		go func() { done <- echoOneStream(s, deadline) }()
	case *PacketConn:
		s.SetDeadline(deadline)
		defer s.SetDeadline(time.Time{})
		wake = func() { s.SetDeadline(time.Now()) }
		go func() { done <- echoOneDatagram(s) }()
	default:
		t.Fatalf("assertRoundTrip: %T is not a *Listener or *PacketConn", srv)
	}
	clientErr := dialPing(address, deadline)
	if clientErr != nil {
		// Nothing is coming: wake the server now rather than at the deadline.
		wake()
	}
	if err := <-done; err != nil {
		t.Errorf("server at %s: %v", address, err)
	}
	if clientErr != nil {
		t.Errorf("client of %s: %v", address, clientErr)
	}
}

// echoOneStream accepts until a connection sends data, and echoes it once.
// Connections that send nothing are the stale checks of other listeners
// (they connect and close), which a live listener may have in its backlog.
func echoOneStream(l *Listener, deadline time.Time) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		c.SetDeadline(deadline)
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if n == 0 {
			c.Close()
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			continue
		}
		_, err = c.Write(buf[:n])
		c.Close()
		return err
	}
}

// echoOneDatagram echoes one datagram to its sender.
func echoOneDatagram(pc *PacketConn) error {
	buf := make([]byte, 64)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		return err
	}
	if from == nil || from.String() == "" {
		return errors.New("datagram came without a reply address")
	}
	_, err = pc.WriteTo(buf[:n], from)
	return err
}

// dialPing dials address with Dial, sends "ping" and wants "ping" back.
func dialPing(address string, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	c, err := Dial(ctx, address)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.Equal(buf[:n], []byte("ping")) {
		return errors.New("echo: got " + string(buf[:n]) + ", want ping")
	}
	return nil
}
