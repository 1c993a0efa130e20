//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/udsgate/udsgate/uds"
)

// ioTimeout bounds each connect and round trip of the idle-connection
// figures: a process that stops answering fails the row instead of hanging
// the suite.
const ioTimeout = 5 * time.Second

// dialRetry connects to address, retrying while the listen backlog is full
// (EAGAIN), for up to ioTimeout.
func dialRetry(ctx context.Context, address string) (net.Conn, error) {
	deadline := time.Now().Add(ioTimeout)
	for {
		c, err := uds.Dial(ctx, address)
		if err == nil || !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(time.Millisecond)
	}
}

// readFull reads len(buf) bytes within ioTimeout.
func readFull(c net.Conn, buf []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(c, buf)
	if err != nil {
		return n, err
	}
	return n, c.SetReadDeadline(time.Time{})
}
