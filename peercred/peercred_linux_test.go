package peercred

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// streamNetworks are the connection-oriented Unix socket types here.
var streamNetworks = []string{"unix", "unixpacket"}

// nobody is a user and groups the test process does not have: the child runs
// as uid and gid 65534 with supplementary groups that exist in no database.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4242, 4343}}

// childMain is the child process's side: it connects or sends to addr and
// then waits for the parent (by reading until EOF) so that the parent can
// look at it while it lives.
func childMain(mode, addr string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", mode, err)
		return 1
	}
	switch mode {
	case "dial-unix", "dial-unixpacket":
		c, err := net.Dial(strings.TrimPrefix(mode, "dial-"), addr)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		// The parent closes its end when it has looked.
		if _, err := io.Copy(io.Discard, c); err != nil {
			return fail(err)
		}
		return 0
	case "send", "send-exit":
		c, err := net.Dial("unixgram", addr)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("hello")); err != nil {
			return fail(err)
		}
		if mode == "send" {
			// The parent closes our stdin when it has looked.
			if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
				return fail(err)
			}
		}
		return 0
	}
	return fail(errors.New("unknown mode"))
}

// child is a child process running childMain.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	done   bool
}

// startChild starts the test binary as a child in the given mode, as the user
// in cred (nil: as ourselves). Cleanup ends it and waits for it.
func startChild(t *testing.T, mode, addr string, cred *syscall.Credential) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		exe = exeForOthers(t, exe)
	}
	ch := &child{cmd: exec.Command(exe, "-test.run=^$")}
	// The race detector otherwise sleeps a second at exit.
	ch.cmd.Env = append(os.Environ(), childEnv+"="+mode, childAddrEnv+"="+addr, "GORACE=atexit_sleep_ms=0")
	ch.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	ch.cmd.Stderr = &ch.stderr
	if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := ch.cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	t.Cleanup(func() {
		if !ch.done {
			ch.stdin.Close()
			ch.cmd.Process.Kill()
			ch.cmd.Wait()
		}
	})
	return ch
}

// wait lets the child finish and fails the test if it did not succeed.
func (ch *child) wait(t *testing.T) {
	t.Helper()
	ch.stdin.Close()
	err := ch.cmd.Wait()
	ch.done = true
	if err != nil {
		t.Fatalf("child: %v; stderr:\n%s", err, ch.stderr.String())
	}
}

// exeForOthers copies the test binary to a directory every user can enter:
// the go tool builds it in a private one, where another uid cannot exec it.
func exeForOthers(t *testing.T, exe string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "peercred-exe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "peercred.test")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child process as another uid (65534) with other groups")
	}
}

var abstractSeq atomic.Int64

// abstractAddr is a fresh name in the abstract namespace, where any uid may
// connect (no file, no permissions).
func abstractAddr() string {
	return fmt.Sprintf("@udsgate-peercred-test-%d-%d", os.Getpid(), abstractSeq.Add(1))
}

// acceptBounded accepts one connection, failing (with the child's stderr)
// rather than hanging if the child never connects.
func acceptBounded(t *testing.T, l net.Listener, ch *child) net.Conn {
	t.Helper()
	type deadliner interface{ SetDeadline(time.Time) error }
	if err := l.(deadliner).SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("accept: %v; child stderr:\n%s", err, ch.stderr.String())
	}
	return c
}

type wantCred struct {
	uid, gid, pid int
	groups        []int
	source        string
}

func checkCred(t *testing.T, c *Cred, want wantCred) {
	t.Helper()
	if c.UID != want.uid || c.GID != want.gid {
		t.Errorf("uid, gid = %d, %d; want %d, %d", c.UID, c.GID, want.uid, want.gid)
	}
	if pid, ok := c.PID(); !ok || pid != want.pid {
		t.Errorf("PID() = %d, %v; want %d, true", pid, ok, want.pid)
	}
	gs, ok := c.Groups()
	if ok != (want.groups != nil) || !slices.Equal(gs, want.groups) {
		t.Errorf("Groups() = %v, %v; want %v, %v", gs, ok, want.groups, want.groups != nil)
	}
	if got := c.GroupsSource(); got != want.source {
		t.Errorf("GroupsSource() = %q, want %q", got, want.source)
	}
}

func ownGroups(t *testing.T) []int {
	t.Helper()
	gs, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	if gs == nil {
		gs = []int{}
	}
	return gs
}

func TestGetReportsAnotherProcessAsTheKernelSeesIt(t *testing.T) {
	for _, network := range streamNetworks {
		t.Run(network+"/same user", func(t *testing.T) {
			l, err := net.Listen(network, abstractAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ch := startChild(t, "dial-"+network, l.Addr().String(), nil)
			conn := acceptBounded(t, l, ch)
			c, err := Get(conn)
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkCred(t, c, wantCred{os.Geteuid(), os.Getegid(), ch.cmd.Process.Pid, ownGroups(t), "SO_PEERGROUPS"})
			ch.wait(t)
		})
		t.Run(network+"/other user with supplementary groups", func(t *testing.T) {
			requireRoot(t)
			l, err := net.Listen(network, abstractAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ch := startChild(t, "dial-"+network, l.Addr().String(), nobody)
			conn := acceptBounded(t, l, ch)
			c, err := Get(conn)
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			// SO_PEERGROUPS is the list setgroups(2) made, without the
			// primary gid unless it was in that list.
			checkCred(t, c, wantCred{65534, 65534, ch.cmd.Process.Pid, []int{4242, 4343}, "SO_PEERGROUPS"})
			ch.wait(t)
		})
	}
}

func TestGetReportsOwnCredentialsOnASocketpair(t *testing.T) {
	for _, typ := range []struct {
		name string
		typ  int
	}{{"stream", unix.SOCK_STREAM}, {"seqpacket", unix.SOCK_SEQPACKET}, {"datagram", unix.SOCK_DGRAM}} {
		t.Run(typ.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, typ.typ|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[1])
			c, err := FromFD(fds[1])
			if err != nil {
				t.Fatalf("FromFD: %v", err)
			}
			checkCred(t, c, wantCred{os.Geteuid(), os.Getegid(), os.Getpid(), ownGroups(t), "SO_PEERGROUPS"})

			f := os.NewFile(uintptr(fds[0]), "socketpair")
			conn, err := net.FileConn(f) // dups fds[0]
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c, err = Get(conn)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			checkCred(t, c, wantCred{os.Geteuid(), os.Getegid(), os.Getpid(), ownGroups(t), "SO_PEERGROUPS"})
		})
	}
}

func TestGetOnASocketWithoutPeerIsErrNoCredentials(t *testing.T) {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: abstractAddr(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Get(c); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("Get on an unconnected datagram socket: error = %v, want ErrNoCredentials", err)
	}
}

func TestOOBSizeHoldsOneCredentialMessage(t *testing.T) {
	if want := unix.CmsgSpace(unix.SizeofUcred); OOBSize != want {
		t.Fatalf("OOBSize = %d, want CMSG_SPACE(sizeof(struct ucred)) = %d", OOBSize, want)
	}
}

// listenGram listens on a fresh abstract datagram address with SO_PASSCRED.
func listenGram(t *testing.T) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: abstractAddr(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := EnablePassCred(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// readCred reads one datagram and returns its sender's credentials.
func readCred(t *testing.T, c *net.UnixConn) *Cred {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 64), make([]byte, OOBSize)
	_, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.MSG_CTRUNC != 0 {
		t.Fatalf("control data truncated: OOBSize %d is too small", OOBSize)
	}
	cred, err := FromOOB(oob[:oobn])
	if err != nil {
		t.Fatalf("FromOOB: %v", err)
	}
	return cred
}

func TestFromOOBReportsEachDatagramsSender(t *testing.T) {
	t.Run("ourselves", func(t *testing.T) {
		c := listenGram(t)
		if _, err := c.WriteToUnix([]byte("x"), c.LocalAddr().(*net.UnixAddr)); err != nil {
			t.Fatal(err)
		}
		// SCM_CREDENTIALS carries the real ids.
		checkCred(t, readCred(t, c), wantCred{os.Getuid(), os.Getgid(), os.Getpid(), ownGroups(t), "/proc/PID/status"})
	})
	t.Run("same user", func(t *testing.T) {
		c := listenGram(t)
		ch := startChild(t, "send", c.LocalAddr().String(), nil)
		cred := readCred(t, c)
		checkCred(t, cred, wantCred{os.Getuid(), os.Getgid(), ch.cmd.Process.Pid, ownGroups(t), "/proc/PID/status"})
		ch.wait(t)
	})
	t.Run("other user with supplementary groups", func(t *testing.T) {
		requireRoot(t)
		c := listenGram(t)
		ch := startChild(t, "send", c.LocalAddr().String(), nobody)
		cred := readCred(t, c)
		checkCred(t, cred, wantCred{65534, 65534, ch.cmd.Process.Pid, []int{4242, 4343}, "/proc/PID/status"})
		ch.wait(t)
	})
	t.Run("sender gone before the datagram is read", func(t *testing.T) {
		c := listenGram(t)
		ch := startChild(t, "send-exit", c.LocalAddr().String(), nil)
		ch.wait(t) // reaped: its /proc entry is gone, the datagram is queued
		cred := readCred(t, c)
		checkCred(t, cred, wantCred{os.Getuid(), os.Getgid(), ch.cmd.Process.Pid, nil, ""})
	})
}

func TestFromOOBChecksTheProcessStillMatches(t *testing.T) {
	me, uid, gid := int32(os.Getpid()), uint32(os.Getuid()), uint32(os.Getgid())
	creds := func(pid int32, uid, gid uint32) []byte {
		return unix.UnixCredentials(&unix.Ucred{Pid: pid, Uid: uid, Gid: gid})
	}
	tests := []struct {
		name       string
		oob        []byte
		wantErr    error
		wantPID    int
		wantGroups bool
	}{
		{"matching live process", creds(me, uid, gid), nil, int(me), true},
		{"pid now another uid's", creds(me, uid+12345, gid), nil, int(me), false},
		{"pid now another gid's", creds(me, uid, gid+12345), nil, int(me), false},
		{"pid not visible", creds(0, uid, gid), nil, 0, false},
		{"after passed descriptors", append(unix.UnixRights(0, 1), creds(me, uid, gid)...), nil, int(me), true},
		{"no control data", nil, ErrNoCredentials, 0, false},
		{"descriptors only", unix.UnixRights(0), ErrNoCredentials, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromOOB(tt.oob)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pid, _ := c.PID(); pid != tt.wantPID {
				t.Errorf("pid = %d, want %d", pid, tt.wantPID)
			}
			if _, ok := c.Groups(); ok != tt.wantGroups {
				t.Errorf("groups known = %v, want %v", ok, tt.wantGroups)
			}
		})
	}
	t.Run("short credentials", func(t *testing.T) {
		oob := creds(me, uid, gid)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.SetLen(unix.CmsgLen(4))
		if _, err := FromOOB(oob[:unix.CmsgSpace(4)]); err == nil || errors.Is(err, ErrNoCredentials) {
			t.Fatalf("error = %v, want a malformed-message error", err)
		}
	})
}

const statusFile = `Name:	sleep
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4242
Uid:	1000	1001	1002	1003
Gid:	100	101	102	103
FDSize:	64
Groups:	4 27 1000 
NStgid:	4242
`

func TestParseStatusKeepsGroupsOnlyForTheSameUser(t *testing.T) {
	tests := []struct {
		name   string
		status string
		uid    int
		gid    int
		want   []int
		wantOK bool
	}{
		{"real ids", statusFile, 1000, 100, []int{4, 27, 1000}, true},
		{"effective ids", statusFile, 1001, 101, []int{4, 27, 1000}, true},
		{"saved ids", statusFile, 1002, 102, []int{4, 27, 1000}, true},
		{"another uid (pid reused)", statusFile, 2000, 100, nil, false},
		{"another gid", statusFile, 1000, 200, nil, false},
		{"no groups", strings.Replace(statusFile, "Groups:	4 27 1000 ", "Groups:	", 1), 1000, 100, []int{}, true},
		{"no Groups line", strings.Replace(statusFile, "Groups:	4 27 1000 \n", "", 1), 1000, 100, nil, false},
		{"no Uid line", strings.Replace(statusFile, "Uid:	1000	1001	1002	1003\n", "", 1), 1000, 100, nil, false},
		{"garbled group", strings.Replace(statusFile, "27", "x", 1), 1000, 100, nil, false},
		{"empty", "", 1000, 100, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStatus([]byte(tt.status), tt.uid, tt.gid)
			if ok != tt.wantOK || !slices.Equal(got, tt.want) {
				t.Fatalf("parseStatus = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestProcGroupsReadsAStatusFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status")
	if err := os.WriteFile(path, []byte(statusFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok := procGroups(path, 1000, 100); !ok || !slices.Equal(got, []int{4, 27, 1000}) {
		t.Errorf("procGroups(matching) = %v, %v; want [4 27 1000], true", got, ok)
	}
	if got, ok := procGroups(path, 65534, 100); ok {
		t.Errorf("procGroups(uid mismatch) = %v, true; want unknown", got)
	}
	if got, ok := procGroups(filepath.Join(dir, "gone"), 1000, 100); ok {
		t.Errorf("procGroups(missing file) = %v, true; want unknown", got)
	}
}

// connectedPair returns both ends of a fresh connection on a listener.
func connectedPair(b *testing.B) (server, client net.Conn) {
	b.Helper()
	l, err := net.Listen("unix", abstractAddr())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("unix", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// BenchmarkGet is the credential check a gate makes per connection: two
// getsockopt calls through SyscallConn.
func BenchmarkGet(b *testing.B) {
	server, _ := connectedPair(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Get(server); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromFD is the same for a raw descriptor (an epoll engine).
func BenchmarkFromFD(b *testing.B) {
	server, _ := connectedPair(b)
	rc, err := server.(*net.UnixConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd int
	rc.Control(func(u uintptr) { fd = int(u) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromFD(fd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromOOB is the per-datagram cost: parse SCM_CREDENTIALS and read
// /proc/PID/status.
func BenchmarkFromOOB(b *testing.B) {
	oob := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromOOB(oob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUserNameCached(b *testing.B) {
	UserName(0)
	b.ReportAllocs()
	for b.Loop() {
		UserName(0)
	}
}
