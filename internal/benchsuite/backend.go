//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/udsgate/udsgate/echo"
	"github.com/udsgate/udsgate/uds"
)

// sinkReadBuf is the sink's read buffer: large, so that the sink is never
// what limits a bulk transfer.
const sinkReadBuf = 256 << 10

// runBackend is the suite binary re-executed as a backend process:
// "backend echo ADDRESS" or "backend sink ADDRESS". It listens, prints
// "ready ADDRESS" (with the port bound, for tcp and udp) on stdout, and
// serves until SIGTERM or SIGINT, when it removes its socket file and exits.
func runBackend(args []string) error {
	if len(args) != 2 || (args[0] != "echo" && args[0] != "sink") {
		return errors.New("usage: benchsuite backend echo|sink ADDRESS")
	}
	kind, address := args[0], args[1]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := uds.ParseAddr(address)
	if err != nil {
		return err
	}
	if a.IsDatagram() {
		if kind != "echo" {
			return fmt.Errorf("a %s sink is not needed", a.Net)
		}
		pc, err := uds.ListenPacket(ctx, address)
		if err != nil {
			return err
		}
		ready(a, pc.LocalAddr())
		return echo.ServePacket(ctx, pc)
	}
	ln, err := uds.Listen(ctx, address)
	if err != nil {
		return err
	}
	ready(a, ln.Addr())
	if kind == "echo" {
		return echo.Serve(ctx, ln)
	}
	return serveSink(ctx, ln)
}

// ready tells the suite the backend is listening, and where.
func ready(a uds.Addr, bound net.Addr) {
	where := a.String()
	if !a.IsUnix() {
		where = a.Net + ":" + bound.String()
	}
	fmt.Printf("ready %s\n", where)
}

// serveSink reads every connection to its end and closes it, until ctx is
// done; it closes ln and every connection before it returns.
func serveSink(ctx context.Context, ln net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	stopped := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	defer stopped()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			ln.Close()
			return err
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		if ctx.Err() != nil {
			c.Close() // accepted as the server stopped: AfterFunc may have missed it
		}
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			buf := make([]byte, sinkReadBuf)
			for {
				if _, err := c.Read(buf); err != nil {
					if !errors.Is(err, io.EOF) && ctx.Err() == nil {
						fmt.Fprintf(os.Stderr, "sink: %v\n", err)
					}
					return
				}
			}
		})
	}
}
