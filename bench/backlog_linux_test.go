package bench

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/udsgate/udsgate/uds"
)

// listenBacklogOne listens on a unix socket with a listen backlog of one
// (net.Listen always asks for the system maximum).
func listenBacklogOne(t *testing.T) (string, net.Listener) {
	t.Helper()
	path := filepath.Join(sockDir(t), "b.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return "unix:" + path, l
}

func TestConnectRetriesWhileBacklogIsFull(t *testing.T) {
	addr, l := listenBacklogOne(t)
	// Fill the backlog, so the run's connects get EAGAIN until the server
	// starts accepting.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for {
		c, err := uds.Dial(context.Background(), addr)
		if errors.Is(err, syscall.EAGAIN) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	var accepted sync.WaitGroup
	defer accepted.Wait()
	start := make(chan struct{})
	accepted.Go(func() {
		<-start
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	defer l.Close()
	var once sync.Once
	r, err := Run(context.Background(), addr, Config{
		Mode: Connect, Duration: 50 * time.Millisecond, ProgressEvery: time.Millisecond,
		Progress: func(p Progress) {
			if p.Retries > 0 {
				once.Do(func() { close(start) })
			}
		},
	})
	once.Do(func() { close(start) })
	if err != nil {
		t.Fatal(err)
	}
	if r.Retries == 0 || r.Ops == 0 {
		t.Errorf("%d retries, %d connections: want both", r.Retries, r.Ops)
	}
}
