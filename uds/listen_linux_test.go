package uds

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// abstractName is a fresh name in the abstract namespace, which is shared by
// the whole network namespace: a fixed name could collide.
func abstractName(t *testing.T) string {
	t.Helper()
	return "@udsgate-test-" + rand.Text()
}

// TestAbstractListenAndDial: every type works in the abstract namespace, no
// file appears, and a second listener on the name is ErrInUse.
func TestAbstractListenAndDial(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			address := network + ":" + abstractName(t)
			srv := mustListen(t, ListenConfig{}, address)
			assertRoundTrip(t, srv, address)
			name := strings.TrimPrefix(MustParseAddr(address).Name, "@")
			for _, p := range []string{name, "@" + name, filepath.Join(os.TempDir(), name)} {
				if _, err := os.Lstat(filepath.Join(wd, p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a file %s appeared for an abstract address", p)
				}
			}
			if _, err := listenAny(context.Background(), ListenConfig{}, address); !errors.Is(err, ErrInUse) {
				t.Errorf("second listen on %s: %v, want ErrInUse", address, err)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			// Closed, the name is free again at once.
			srv = mustListen(t, ListenConfig{}, address)
			srv.Close()
		})
	}
}

// TestAbstractRefusesFileOptions: an abstract address has no file to give a
// mode or an owner.
func TestAbstractRefusesFileOptions(t *testing.T) {
	for _, network := range unixNets() {
		for _, lc := range []ListenConfig{{Mode: 0o600}, {Owner: "0"}, {Group: "root"}} {
			address := network + ":" + abstractName(t)
			var ae *AddrError
			if _, err := listenAny(context.Background(), lc, address); !errors.As(err, &ae) {
				t.Errorf("%+v on %s: %v, want *AddrError", lc, address, err)
			}
		}
	}
}

// TestAbstractNameAtTheLimit: '@' and 107 bytes fill sun_path, and the
// kernel takes it.
func TestAbstractNameAtTheLimit(t *testing.T) {
	name := abstractName(t)
	name += strings.Repeat("x", maxPathLen+1-len(name))
	srv := mustListen(t, ListenConfig{}, "unix:"+name)
	assertRoundTrip(t, srv, "unix:"+name)
}

// TestDialUnixgramAutobinds: the client of a unixgram socket gets an
// abstract reply address from the kernel (no file to clean up), and the
// server's reply arrives there.
func TestDialUnixgramAutobinds(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "g.sock")
	srv := mustListen(t, ListenConfig{}, "unixgram:"+path).(*PacketConn)
	before := snapshot(t, dir)
	c, err := Dial(context.Background(), "unixgram:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.LocalAddr().String(), "@") {
		t.Errorf("client's address %q is not an autobound abstract name", c.LocalAddr())
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	srv.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, from, err := srv.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from == nil || from.String() != c.LocalAddr().String() {
		t.Fatalf("server sees the datagram from %v, want %v", from, c.LocalAddr())
	}
	if _, err := srv.WriteTo(buf[:n], from); err != nil {
		t.Fatal(err)
	}
	n, err = c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("reply: %q, %v", buf[:n], err)
	}
	assertSnapshot(t, dir, before)
}

// TestListenNeverWiderThanOwnerBeforeChmod looks at the file in the moment
// between bind and chmod (through testHookAfterBind): it must have no bits
// beyond the owner part of Mode, even when the process's umask would allow
// more (go test runs with 022: without the fchmod before bind the file
// would be 0755 there).
func TestListenNeverWiderThanOwnerBeforeChmod(t *testing.T) {
	var seen []fs.FileMode
	testHookAfterBind = func(path string) {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Errorf("hook: %v", err)
			return
		}
		seen = append(seen, fi.Mode().Perm())
	}
	t.Cleanup(func() { testHookAfterBind = nil })
	for _, network := range unixNets() {
		for _, mode := range modeCases {
			seen = nil
			path := filepath.Join(shortDir(t), "s.sock")
			srv := mustListen(t, ListenConfig{Mode: mode}, network+":"+path)
			srv.Close()
			if len(seen) != 1 {
				t.Fatalf("%s %04o: hook ran %d times, want 1", network, mode, len(seen))
			}
			if seen[0]&^(mode&0o700) != 0 {
				t.Errorf("%s Mode %04o: after bind the file had %04o, wider than %04o", network, mode, seen[0], mode&0o700)
			}
		}
	}
}

// TestListenNoOtherUserSlipsIn: a process of user nobody connects as fast
// as it can to the path while another process, with umask 0, listens there
// with Mode 0600 and closes again, over and over. It never gets in: there
// is no moment in which the file lets others connect. A control run with
// Mode 0666 shows that the same process does get in when the mode allows.
func TestListenNoOtherUserSlipsIn(t *testing.T) {
	requireRoot(t, "running a process as another user needs root")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil { // let nobody reach the socket and the binary
		t.Fatal(err)
	}
	exe := copyTestBinary(t, dir)
	cred := &syscall.Credential{Uid: uint32(atoi(t, nobody.Uid)), Gid: uint32(atoi(t, nobody.Gid))}
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			path := filepath.Join(dir, "h.sock")
			address := network + ":" + path
			env := []string{"UDS_TEST_PATH=" + path, "UDS_TEST_NET=" + network}

			// Control: with Mode 0666 nobody connects.
			srv := mustListen(t, ListenConfig{Mode: 0o666}, address)
			h := startHelper(t, "connect", helperOpts{exe: exe, cred: cred, env: append(env, "UDS_TEST_LOOP=until-connected")})
			h.line(t)
			if ok, _ := connectCounts(t, h.finish(t)[0]); ok == 0 {
				t.Fatalf("control: nobody could not connect to a %s socket of mode 0666 in a minute; the test cannot fail", network)
			}
			srv.Close()

			hammer := startHelper(t, "connect", helperOpts{exe: exe, cred: cred, env: append(env, "UDS_TEST_LOOP=until-stdin-ends")})
			if l := hammer.line(t); l != "connecting" {
				t.Fatalf("hammer said %q", l)
			}
			const cycles = 300
			loop := startHelper(t, "listenloop", helperOpts{env: []string{"UDS_TEST_ADDR=" + address, "UDS_TEST_MODE=600", fmt.Sprintf("UDS_TEST_N=%d", cycles)}})
			if l := loop.line(t); l != "done" {
				t.Fatalf("listen loop said %q", l)
			}
			loop.finish(t)
			ok, eacces := connectCounts(t, hammer.finish(t)[0])
			if ok != 0 {
				t.Errorf("nobody connected %d times to a %s socket listened on with Mode 0600", ok, network)
			}
			if eacces == 0 {
				t.Errorf("nobody never hit the socket file in %d listens (no EACCES): the test proved nothing", cycles)
			}
			t.Logf("%s: %d connects refused by the file's mode while it existed", network, eacces)
		})
	}
}
