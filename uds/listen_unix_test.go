//go:build unix

package uds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenOnExistingPath covers each kind of file that can be in the way,
// for each socket type: a stale socket of any type is replaced; a live one
// of any type is in use and keeps working; anything that is not a socket is
// left exactly as it was. A failed listen changes nothing in the directory.
func TestListenOnExistingPath(t *testing.T) {
	type existing struct {
		name string
		// setup puts something at path (in dir) and returns the Kind of
		// the *NotSocketError it must cause, or "" if it is a socket.
		setup   func(t *testing.T, dir, path string) (kind string)
		want    error  // nil, ErrInUse or ErrNotSocket
		liveNet string // for ErrInUse: the type of the live socket, to check it still answers
	}
	var cases []existing
	for _, other := range unixNets() {
		cases = append(cases,
			existing{
				name:  "stale " + other + " socket",
				setup: func(t *testing.T, _, path string) string { makeStale(t, other, path); return "" },
			},
			existing{
				name:    "live " + other + " socket",
				setup:   func(t *testing.T, _, path string) string { startEcho(t, other, path); return "" },
				want:    ErrInUse,
				liveNet: other,
			})
	}
	cases = append(cases,
		existing{
			name: "regular file",
			setup: func(t *testing.T, _, path string) string {
				if err := os.WriteFile(path, []byte("precious\n"), 0o640); err != nil {
					t.Fatal(err)
				}
				return "regular file"
			},
			want: ErrNotSocket,
		},
		existing{
			name: "empty regular file",
			setup: func(t *testing.T, _, path string) string {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return "regular file"
			},
			want: ErrNotSocket,
		},
		existing{
			name: "directory",
			setup: func(t *testing.T, _, path string) string {
				if err := os.Mkdir(path, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(path, "inside"), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				return "directory"
			},
			want: ErrNotSocket,
		},
		existing{
			name: "symlink to a live socket",
			setup: func(t *testing.T, dir, path string) string {
				target := filepath.Join(dir, "real.sock")
				startEcho(t, Unix, target)
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
				return "symlink to " + target
			},
			want: ErrNotSocket,
		},
		existing{
			name: "symlink to a stale socket",
			setup: func(t *testing.T, dir, path string) string {
				makeStale(t, Unix, filepath.Join(dir, "old.sock"))
				if err := os.Symlink("old.sock", path); err != nil {
					t.Fatal(err)
				}
				return "symlink to old.sock"
			},
			want: ErrNotSocket,
		},
		existing{
			name: "symlink to a file",
			setup: func(t *testing.T, dir, path string) string {
				target := filepath.Join(dir, "f.txt")
				if err := os.WriteFile(target, []byte("keep me"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
				return "symlink to " + target
			},
			want: ErrNotSocket,
		},
		existing{
			name: "dangling symlink",
			setup: func(t *testing.T, dir, path string) string {
				if err := os.Symlink("/nonexistent/x.sock", path); err != nil {
					t.Fatal(err)
				}
				return "symlink to /nonexistent/x.sock"
			},
			want: ErrNotSocket,
		},
		existing{
			name: "named pipe",
			setup: func(t *testing.T, _, path string) string {
				if err := unix.Mkfifo(path, 0o600); err != nil {
					t.Fatal(err)
				}
				return "named pipe"
			},
			want: ErrNotSocket,
		},
	)

	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					dir := shortDir(t)
					path := filepath.Join(dir, "s.sock")
					address := network + ":" + path
					wantKind := tt.setup(t, dir, path)
					before := snapshot(t, dir)

					srv, err := listenAny(context.Background(), ListenConfig{}, address)
					if tt.want == nil {
						if err != nil {
							t.Fatalf("listen over a %s: %v", tt.name, err)
						}
						assertRoundTrip(t, srv, address)
						if err := srv.Close(); err != nil {
							t.Fatalf("Close: %v", err)
						}
						// The stale socket is gone and so is ours; nothing
						// else changed.
						delete(before, "s.sock")
						assertSnapshot(t, dir, before)
						return
					}
					if err == nil {
						srv.Close()
						t.Fatalf("listen over a %s succeeded, want %v", tt.name, tt.want)
					}
					if !errors.Is(err, tt.want) {
						t.Fatalf("listen over a %s: %v, want %v", tt.name, err, tt.want)
					}
					if !strings.Contains(err.Error(), path) {
						t.Errorf("error %q does not name the path", err)
					}
					if tt.want == ErrNotSocket {
						var nse *NotSocketError
						if !errors.As(err, &nse) {
							t.Fatalf("error %v is not a *NotSocketError", err)
						}
						if nse.Path != path || nse.Kind != wantKind {
							t.Errorf("NotSocketError{Path: %q, Kind: %q}, want {%q, %q}", nse.Path, nse.Kind, path, wantKind)
						}
					}
					assertSnapshot(t, dir, before)
					if tt.liveNet != "" {
						assertEcho(t, tt.liveNet, path)
					}
				})
			}
		})
	}
}

// TestListenMissingDirectory: the error names the missing directory, wraps
// fs.ErrNotExist, and nothing is created on the way.
func TestListenMissingDirectory(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			missing := filepath.Join(dir, "missing")
			before := snapshot(t, dir)
			_, err := listenAny(context.Background(), ListenConfig{}, network+":"+filepath.Join(missing, "s.sock"))
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("listen in a missing directory: %v, want fs.ErrNotExist", err)
			}
			if !strings.Contains(err.Error(), "directory "+missing+" does not exist") {
				t.Errorf("error %q does not name the directory %s", err, missing)
			}
			assertSnapshot(t, dir, before)
		})
	}
}

// TestListenParentIsAFile: a path through a regular file fails without
// touching the file.
func TestListenParentIsAFile(t *testing.T) {
	dir := shortDir(t)
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err := Listen(context.Background(), "unix:"+file+"/s.sock")
	if err == nil || !strings.Contains(err.Error(), file+" is not a directory") {
		t.Fatalf("listen under a file: %v, want it to say %s is not a directory", err, file)
	}
	assertSnapshot(t, dir, before)
}

// TestListenFailureAfterBindLeavesNothing: when chown fails after bind (a
// user other than root may not give a file away), the socket file is
// removed again and the directory is as before.
func TestListenFailureAfterBindLeavesNothing(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			if os.Geteuid() != 0 {
				dir := shortDir(t)
				before := snapshot(t, dir)
				_, err := listenAny(context.Background(), ListenConfig{Owner: "0"}, network+":"+filepath.Join(dir, "s.sock"))
				if !errors.Is(err, fs.ErrPermission) {
					t.Fatalf("listen with owner root as uid %d: %v, want fs.ErrPermission", os.Geteuid(), err)
				}
				assertSnapshot(t, dir, before)
				return
			}
			// As root, chown cannot fail: let user nobody try instead.
			nobody, err := user.Lookup("nobody")
			if err != nil {
				t.Skipf("no user nobody: %v", err)
			}
			uid, gid := atoi(t, nobody.Uid), atoi(t, nobody.Gid)
			top := shortDir(t)
			if err := os.Chmod(top, 0o755); err != nil {
				t.Fatal(err)
			}
			exe := copyTestBinary(t, top)
			dir := filepath.Join(top, "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, uid, gid); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			h := startHelper(t, "listen", helperOpts{exe: exe, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
				env: []string{"UDS_TEST_ADDR=" + network + ":" + filepath.Join(dir, "s.sock"), "UDS_TEST_OWNER=0"}})
			h.line(t) // ready
			h.send(t, "go")
			if l := h.line(t); l != "permission" {
				t.Fatalf("nobody listening with owner root: %q, want permission", l)
			}
			h.finish(t)
			assertSnapshot(t, dir, before)
		})
	}
}

// TestListenWrongCall: Listen refuses datagram networks and ListenPacket
// stream ones, with an *AddrError and nothing on disk.
func TestListenWrongCall(t *testing.T) {
	dir := shortDir(t)
	before := snapshot(t, dir)
	path := filepath.Join(dir, "s.sock")
	var lc ListenConfig
	calls := []struct {
		name string
		call func() error
	}{
		{"Listen unixgram", func() error { _, err := lc.Listen(context.Background(), "unixgram:"+path); return err }},
		{"Listen udp", func() error { _, err := lc.Listen(context.Background(), "udp:127.0.0.1:0"); return err }},
		{"ListenPacket unix", func() error { _, err := lc.ListenPacket(context.Background(), "unix:"+path); return err }},
		{"ListenPacket tcp", func() error { _, err := lc.ListenPacket(context.Background(), "tcp:127.0.0.1:0"); return err }},
		{"Listen bad address", func() error { _, err := lc.Listen(context.Background(), "nonsense"); return err }},
		{"ListenPacket bad address", func() error { _, err := lc.ListenPacket(context.Background(), "nonsense"); return err }},
	}
	for _, c := range calls {
		var ae *AddrError
		if err := c.call(); !errors.As(err, &ae) {
			t.Errorf("%s: %v, want an *AddrError", c.name, err)
		}
	}
	assertSnapshot(t, dir, before)
}

// TestListenPathTooLong: the kernel's limit is checked before anything.
func TestListenPathTooLong(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, strings.Repeat("p", maxPathLen+1-len(dir)-1))
	for _, network := range unixNets() {
		_, err := listenAny(context.Background(), ListenConfig{}, network+":"+path)
		var tl *PathTooLongError
		if !errors.As(err, &tl) || tl.Len != maxPathLen+1 || tl.Max != maxPathLen {
			t.Errorf("listen %s on a %d-byte path: %v, want *PathTooLongError{Len: %d, Max: %d}", network, len(path), err, maxPathLen+1, maxPathLen)
		}
	}
	// At the limit exactly, the kernel takes it.
	path = path[:len(path)-1]
	for _, network := range unixNets() {
		srv := mustListen(t, ListenConfig{}, network+":"+path)
		assertRoundTrip(t, srv, network+":"+path)
		srv.Close()
	}
}

// TestListenUnknownOwnerOrGroup: unknown names are the os/user errors, found
// before anything on disk changes (even a stale socket stays).
func TestListenUnknownOwnerOrGroup(t *testing.T) {
	tests := []struct {
		name string
		lc   ListenConfig
		want any
	}{
		{"owner", ListenConfig{Owner: "udsgate-no-such-user"}, new(user.UnknownUserError)},
		{"group", ListenConfig{Group: "udsgate-no-such-group"}, new(user.UnknownGroupError)},
		{"owner with mode", ListenConfig{Owner: "udsgate-no-such-user", Mode: 0o660}, new(user.UnknownUserError)},
	}
	for _, network := range unixNets() {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				dir := shortDir(t)
				path := filepath.Join(dir, "s.sock")
				makeStale(t, network, path)
				before := snapshot(t, dir)
				_, err := listenAny(context.Background(), tt.lc, network+":"+path)
				if !errors.As(err, tt.want) {
					t.Fatalf("listen: %v, want %T", err, tt.want)
				}
				assertSnapshot(t, dir, before)
			})
		}
	}
}

// TestListenConcurrently: goroutines and other processes listen
// on one path at the same moment; exactly one wins, every other gets
// ErrInUse, and the winner's socket answers afterwards.
func TestListenConcurrently(t *testing.T) {
	const goroutines, procs = 8, 4
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			path := filepath.Join(dir, "s.sock")
			address := network + ":" + path
			makeStale(t, network, path) // so that every contender sees something to clear

			helpers := make([]*helperProc, procs)
			for i := range helpers {
				helpers[i] = startHelper(t, "listen", helperOpts{env: []string{"UDS_TEST_ADDR=" + address}})
			}
			for _, h := range helpers {
				if l := h.line(t); l != "ready" {
					t.Fatalf("helper said %q, want ready", l)
				}
			}

			start := make(chan struct{})
			var wg sync.WaitGroup
			results := make([]error, goroutines)
			servers := make([]io.Closer, goroutines)
			for i := range goroutines {
				wg.Go(func() {
					<-start
					srv, err := listenAny(context.Background(), ListenConfig{}, address)
					results[i] = err
					if err == nil {
						servers[i] = srv
					}
				})
			}
			for _, h := range helpers {
				h.send(t, "go")
			}
			close(start)
			wg.Wait()

			winners := 0
			var winner io.Closer
			for i, err := range results {
				switch {
				case err == nil:
					winners++
					winner = servers[i]
					t.Cleanup(func() { servers[i].Close() })
				case !errors.Is(err, ErrInUse):
					t.Errorf("goroutine %d: %v, want ErrInUse or success", i, err)
				}
			}
			procWinner := -1
			for i, h := range helpers {
				switch l := h.line(t); l {
				case "won":
					winners++
					procWinner = i
				case "inuse":
				default:
					t.Errorf("helper %d: %s, want won or inuse", i, l)
				}
			}
			if winners != 1 {
				t.Fatalf("%d winners, want exactly 1", winners)
			}
			if winner != nil {
				assertRoundTrip(t, winner, address)
			} else {
				assertEcho(t, network, path)
			}
			for i, h := range helpers {
				if i != procWinner {
					h.finish(t)
				}
			}
			// Still answering after the losers are gone.
			if winner != nil {
				assertRoundTrip(t, winner, address)
				winner.Close()
			} else {
				assertEcho(t, network, path)
				helpers[procWinner].finish(t)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the winner's socket file is still there after it closed: %v", err)
			}
		})
	}
}

// TestCloseRemovesSocketFile for every type, datagrams included (the net
// package leaves unixgram files behind); a second Close is harmless.
func TestCloseRemovesSocketFile(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			before := snapshot(t, dir)
			path := filepath.Join(dir, "s.sock")
			srv, err := listenAny(context.Background(), ListenConfig{}, network+":"+path)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
				t.Fatalf("after listen, %s: %v, %v; want a socket", path, fi, err)
			}
			if err := srv.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			assertSnapshot(t, dir, before)
			if err := srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("second Close: %v, want nil or net.ErrClosed", err)
			}
		})
	}
}

// TestCloseLeavesSuccessorsSocket: A listens, its file is removed, B listens
// on the same path; closing A (twice) must not remove B's file.
func TestCloseLeavesSuccessorsSocket(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			path := filepath.Join(dir, "s.sock")
			address := network + ":" + path
			a := mustListen(t, ListenConfig{}, address)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			b := mustListen(t, ListenConfig{}, address)
			before := snapshot(t, dir)
			if err := a.Close(); err != nil {
				t.Errorf("Close A: %v", err)
			}
			a.Close()
			assertSnapshot(t, dir, before)
			assertRoundTrip(t, b, address)
			if err := b.Close(); err != nil {
				t.Errorf("Close B: %v", err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("B's file is still there after B closed: %v", err)
			}
		})
	}
}

// TestCloseLeavesWhatReplacedTheFile: if something else now stands at the
// path, Close leaves it; if the directory is gone, Close still succeeds.
func TestCloseLeavesWhatReplacedTheFile(t *testing.T) {
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			path := filepath.Join(dir, "s.sock")
			srv := mustListen(t, ListenConfig{}, network+":"+path)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("not yours"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			assertSnapshot(t, dir, before)

			gone := filepath.Join(shortDir(t), "s.sock")
			srv = mustListen(t, ListenConfig{}, network+":"+gone)
			if err := os.RemoveAll(filepath.Dir(gone)); err != nil {
				t.Fatal(err)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close after its directory was removed: %v", err)
			}
		})
	}
}

// TestListenMode: the socket file gets exactly Mode, whatever the umask of
// the process (a helper process sets it: umask is per process), and Close
// removes it. Where the platform allows (modeBeforeBind), the file has no
// bits beyond the owner part of Mode right after bind, before chmod.
func TestListenMode(t *testing.T) {
	for _, umask := range []string{"0", "022", "077", "777"} {
		t.Run("umask "+umask, func(t *testing.T) {
			h := startHelper(t, "modes", helperOpts{env: []string{"UDS_TEST_UMASK=" + umask, "UDS_TEST_DIR=" + shortDir(t)}})
			lines := h.finish(t)
			if want := len(unixNets()) * len(modeCases); len(lines) != want {
				t.Fatalf("helper printed %d lines, want %d: %q", len(lines), want, lines)
			}
			for _, l := range lines {
				var network string
				var mode, afterBind, final fs.FileMode
				var removed bool
				if _, err := fmt.Sscanf(l, "%s %o %o %o %t", &network, &mode, &afterBind, &final, &removed); err != nil {
					t.Fatalf("helper said %q: %v", l, err)
				}
				if final != mode {
					t.Errorf("%s Mode %04o: file mode %04o", network, mode, final)
				}
				if modeBeforeBind && afterBind&^(mode&0o700) != 0 {
					t.Errorf("%s Mode %04o: right after bind the file had %04o, wider than %04o", network, mode, afterBind, mode&0o700)
				}
				if !removed {
					t.Errorf("%s Mode %04o: Close left the file", network, mode)
				}
			}
		})
	}
}

// TestListenOwnerAndGroup sets owner and group by name and by number, and
// "-1" or "" keeps the process's.
func TestListenOwnerAndGroup(t *testing.T) {
	requireRoot(t, "only root can give a socket file to another user")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Skipf("no group %s: %v", nobody.Gid, err)
	}
	uid, gid := uint32(atoi(t, nobody.Uid)), uint32(atoi(t, nobody.Gid))
	me, mygid := uint32(os.Geteuid()), uint32(os.Getegid())
	tests := []struct {
		name     string
		lc       ListenConfig
		uid, gid uint32
	}{
		{"owner by name", ListenConfig{Owner: "nobody"}, uid, mygid},
		{"owner by number", ListenConfig{Owner: nobody.Uid}, uid, mygid},
		{"group by name", ListenConfig{Group: grp.Name}, me, gid},
		{"group by number", ListenConfig{Group: nobody.Gid}, me, gid},
		{"both and a mode", ListenConfig{Owner: "nobody", Group: grp.Name, Mode: 0o660}, uid, gid},
		{"-1 keeps both", ListenConfig{Owner: "-1", Group: "-1"}, me, mygid},
		{"number 0", ListenConfig{Owner: nobody.Uid, Group: "0"}, uid, 0},
	}
	for _, network := range unixNets() {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				path := filepath.Join(shortDir(t), "s.sock")
				srv := mustListen(t, tt.lc, network+":"+path)
				fi, err := os.Lstat(path)
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if st.Uid != tt.uid || st.Gid != tt.gid {
					t.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, tt.uid, tt.gid)
				}
				if tt.lc.Mode != 0 && fi.Mode().Perm() != tt.lc.Mode {
					t.Errorf("mode %04o, want %04o", fi.Mode().Perm(), tt.lc.Mode)
				}
				if err := srv.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Close left the file: %v", err)
				}
			})
		}
	}
}

// TestListenOwnerAndGroupOfSelf: any user may name itself and its own group,
// by name or by number.
func TestListenOwnerAndGroupOfSelf(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skipf("the current user has no entry in the user database: %v", err)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	byName := ListenConfig{Owner: me.Username, Mode: 0o600}
	if g, err := user.LookupGroupId(me.Gid); err == nil && me.Gid == fmt.Sprint(gid) {
		byName.Group = g.Name
	}
	for _, network := range unixNets() {
		for _, lc := range []ListenConfig{{Owner: fmt.Sprint(uid), Group: fmt.Sprint(gid), Mode: 0o640}, byName} {
			path := filepath.Join(shortDir(t), "s.sock")
			srv := mustListen(t, lc, network+":"+path)
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != lc.Mode {
				t.Errorf("%s %+v: %d:%d %04o, want %d:%d %04o", network, lc, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, lc.Mode)
			}
			srv.Close()
		}
	}
}

// TestListenGroupLetsTheGroupIn: a real process of user nobody connects to a
// socket of group nobody's with Mode 0660, and is refused with Mode 0600.
func TestListenGroupLetsTheGroupIn(t *testing.T) {
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
		for _, tt := range []struct {
			mode   os.FileMode
			wantOK bool
		}{{0o660, true}, {0o600, false}} {
			t.Run(fmt.Sprintf("%s/%04o", network, tt.mode), func(t *testing.T) {
				path := filepath.Join(dir, "g.sock")
				srv := mustListen(t, ListenConfig{Mode: tt.mode, Group: nobody.Gid}, network+":"+path)
				h := startHelper(t, "connect", helperOpts{exe: exe, cred: cred,
					env: []string{"UDS_TEST_PATH=" + path, "UDS_TEST_NET=" + network}})
				h.line(t) // connecting
				ok, eacces := connectCounts(t, h.finish(t)[0])
				if tt.wantOK && ok != 1 {
					t.Errorf("nobody could not connect through group %s and mode %04o", nobody.Gid, tt.mode)
				}
				if !tt.wantOK && eacces != 1 {
					t.Errorf("nobody was not refused with EACCES by mode %04o (ok=%d)", tt.mode, ok)
				}
				srv.Close()
			})
		}
	}
}

// copyTestBinary copies the test binary into dir, where a process of
// another user can run it (go test's build directory is private).
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "uds.test")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// TestListenContestRounds repeats a contest of goroutines over a stale
// socket many times: the check, the removal and the bind of one contender
// must never interleave with another's, or two of them win (one removing the
// other's live socket) and a live listener is left without a file.
func TestListenContestRounds(t *testing.T) {
	const rounds, contenders = 100, 4
	for _, network := range unixNets() {
		t.Run(network, func(t *testing.T) {
			dir := shortDir(t)
			path := filepath.Join(dir, "s.sock")
			address := network + ":" + path
			for round := range rounds {
				makeStale(t, network, path)
				var wg sync.WaitGroup
				start := make(chan struct{})
				servers := make([]io.Closer, contenders)
				errs := make([]error, contenders)
				for i := range contenders {
					wg.Go(func() {
						<-start
						servers[i], errs[i] = listenAny(context.Background(), ListenConfig{}, address)
					})
				}
				close(start)
				wg.Wait()
				var winner io.Closer
				winners := 0
				for i, err := range errs {
					switch {
					case err == nil:
						winners++
						winner = servers[i]
						defer servers[i].Close()
					case !errors.Is(err, ErrInUse):
						t.Fatalf("round %d: %v, want ErrInUse or success", round, err)
					}
				}
				if winners != 1 {
					t.Fatalf("round %d: %d winners, want 1", round, winners)
				}
				assertRoundTrip(t, winner, address)
				if err := winner.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
