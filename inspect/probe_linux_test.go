package inspect

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/udsgate/udsgate/uds"
)

// sockDir returns a short private directory for socket paths: t.TempDir()
// can exceed the kernel's 107-byte limit for a socket path.
func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ugi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// listenAt makes a live socket of type typ at path (or abstract "@name")
// with mode 0660, closed at the end of the test.
func listenAt(t *testing.T, typ SocketType, path string) io.Closer {
	t.Helper()
	ctx := context.Background()
	lc := uds.ListenConfig{Mode: 0o660}
	if strings.HasPrefix(path, "@") {
		lc.Mode = 0
	}
	addr := typ.Network() + ":" + path
	var (
		c   io.Closer
		err error
	)
	if typ == Datagram {
		c, err = lc.ListenPacket(ctx, addr)
	} else {
		c, err = lc.Listen(ctx, addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// staleAt leaves a stale socket at path: a listener that closes without
// removing its file, as a crashed server does.
func staleAt(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// boundAt binds a stream socket to path without listen(2).
func boundAt(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("not a socket\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func myComm(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// everyKind fills dir with one path of each kind the issue names and
// returns their names.
func everyKind(t *testing.T, dir string) []string {
	t.Helper()
	listenAt(t, Stream, filepath.Join(dir, "stream.sock"))
	listenAt(t, SeqPacket, filepath.Join(dir, "packet.sock"))
	listenAt(t, Datagram, filepath.Join(dir, "gram.sock"))
	staleAt(t, filepath.Join(dir, "stale.sock"))
	boundAt(t, filepath.Join(dir, "bound.sock"))
	writeFile(t, filepath.Join(dir, "file"), 0o644)
	mkdir(t, filepath.Join(dir, "dir"), 0o755)
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, "stream.sock", filepath.Join(dir, "link"))
	symlink(t, "stale.sock", filepath.Join(dir, "stalelink"))
	return []string{"stream.sock", "packet.sock", "gram.sock", "stale.sock", "bound.sock",
		"file", "dir", "fifo", "link", "stalelink", "missing"}
}

func TestProbeTellsEveryKindOfPath(t *testing.T) {
	dir := sockDir(t)
	everyKind(t, dir)
	me := os.Getpid()
	for _, tc := range []struct {
		name     string
		kind     Kind
		state    State
		typ      SocketType
		live     bool
		listener bool // the test process is the listener
	}{
		{"stream.sock", KindSocket, StateLive, Stream, true, true},
		{"packet.sock", KindSocket, StateLive, SeqPacket, true, true},
		{"gram.sock", KindSocket, StateLive, Datagram, true, true},
		{"stale.sock", KindSocket, StateStale, 0, false, false},
		{"bound.sock", KindSocket, StateNotListening, Stream, false, false},
		{"file", KindRegular, "", 0, false, false},
		{"dir", KindDir, "", 0, false, false},
		{"fifo", KindFIFO, "", 0, false, false},
		{"link", KindSymlink, "", 0, true, false},
		{"missing", KindMissing, "", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			r := Probe(context.Background(), path)
			if r.Kind != tc.kind || r.State != tc.state || r.Type != tc.typ || r.Live() != tc.live {
				t.Fatalf("Probe(%s) = kind %q state %q type %v live %v; want %q %q %v %v (err %v)",
					tc.name, r.Kind, r.State, r.Type, r.Live(), tc.kind, tc.state, tc.typ, tc.live, r.Err)
			}
			if r.Err != nil {
				t.Errorf("Err = %v, want nil", r.Err)
			}
			if got := slices.ContainsFunc(r.Listeners, func(p Process) bool { return p.PID == me }); got != tc.listener {
				t.Errorf("listeners %+v: test's own pid %d there = %v, want %v", r.Listeners, me, got, tc.listener)
			}
			if tc.listener {
				if r.Listeners[0].Command != myComm(t) || r.Listeners[0].UID != os.Geteuid() {
					t.Errorf("listener = %+v, want command %q uid %d", r.Listeners[0], myComm(t), os.Geteuid())
				}
				if len(r.Inodes) != 1 {
					t.Errorf("Inodes = %v, want the one listening socket", r.Inodes)
				}
			}
			if tc.kind == KindMissing {
				if r.File != nil {
					t.Errorf("File = %+v for a missing path", r.File)
				}
				return
			}
			if r.File == nil || r.File.UID != os.Geteuid() || r.File.GID != os.Getegid() {
				t.Errorf("File = %+v, want owned by uid %d gid %d", r.File, os.Geteuid(), os.Getegid())
			}
			if tc.kind == KindSocket && (r.MayConnect == nil || !*r.MayConnect) {
				t.Errorf("MayConnect = %v, want true for the file's owner", r.MayConnect)
			}
		})
	}
}

func TestProbeFollowsSymlinkToItsTarget(t *testing.T) {
	dir := sockDir(t)
	sock := filepath.Join(dir, "s.sock")
	listenAt(t, Stream, sock)
	symlink(t, "s.sock", filepath.Join(dir, "a"))
	symlink(t, filepath.Join(dir, "a"), filepath.Join(dir, "b")) // absolute, to a symlink

	r := Probe(context.Background(), filepath.Join(dir, "b"))
	if r.Kind != KindSymlink || r.Target != filepath.Join(dir, "a") || r.Resolved == nil {
		t.Fatalf("b: %+v, want a symlink to %s", r, filepath.Join(dir, "a"))
	}
	a := r.Resolved
	if a.Kind != KindSymlink || a.Target != "s.sock" || a.Resolved == nil {
		t.Fatalf("a: %+v, want a symlink to s.sock", a)
	}
	if s := a.Resolved; s.Path != sock || s.Kind != KindSocket || s.State != StateLive || s.File.Mode.Type() != fs.ModeSocket {
		t.Fatalf("target: %+v, want the live socket %s", s, sock)
	}
	if r.File.Mode.Type() != fs.ModeSymlink {
		t.Errorf("the link's own File is %v, want the symlink's mode, not its target's", r.File.Mode)
	}
	if !r.Live() {
		t.Error("a symlink chain to a live socket is not Live")
	}
}

func TestProbeStopsAtSymlinkLoop(t *testing.T) {
	dir := sockDir(t)
	symlink(t, "loop", filepath.Join(dir, "loop"))
	r := Probe(context.Background(), filepath.Join(dir, "loop"))
	depth := 0
	for ; r.Resolved != nil; r = *r.Resolved {
		depth++
	}
	if depth != maxSymlinks || r.Err == nil {
		t.Errorf("followed %d links and stopped with %v; want %d and an error", depth, r.Err, maxSymlinks)
	}
}

func TestProbeReportsParentNotDirectoryAsMissing(t *testing.T) {
	dir := sockDir(t)
	writeFile(t, filepath.Join(dir, "f"), 0o644)
	if r := Probe(context.Background(), filepath.Join(dir, "f", "x.sock")); r.Kind != KindMissing || r.Err != nil {
		t.Errorf("got kind %q err %v, want missing", r.Kind, r.Err)
	}
}

// Probing a stream or seqpacket socket that /proc/net/unix lists must not
// connect to it: the datagram connect is refused by type without reaching
// the server, and /proc gives the type. The server would see a connection
// in its queue otherwise, and /proc would list it.
func TestProbeOfListedListenerMakesNoConnection(t *testing.T) {
	dir := sockDir(t)
	for _, typ := range []SocketType{Stream, SeqPacket} {
		path := filepath.Join(dir, typ.String()+".sock")
		listenAt(t, typ, path)
		if r := Probe(context.Background(), path); r.State != StateLive || r.Type != typ {
			t.Fatalf("%s: state %q type %v, want live %v", path, r.State, r.Type, typ)
		}
		if n := connectionsAt(t, path); n != 0 {
			t.Errorf("%s: %d connections after the probe, want 0", path, n)
		}
	}
}

// connectionsAt counts the connections /proc/net/unix lists with path.
func connectionsAt(t *testing.T, path string) int {
	t.Helper()
	table, err := readSockTable()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range table {
		if e.Connected && e.Name == path {
			n++
		}
	}
	return n
}

// A listener bound by a relative path is listed under that relative path,
// so Probe cannot find it in /proc and must tell the type by connecting:
// datagram, then seqpacket, then stream.
func TestProbeFindsTypeByConnectingWhenProcDoesNotListThePath(t *testing.T) {
	dir := sockDir(t)
	t.Chdir(dir)
	for _, typ := range []SocketType{Stream, SeqPacket, Datagram} {
		name := typ.String() + ".sock"
		listenAt(t, typ, "./"+name)
		r := Probe(context.Background(), filepath.Join(dir, name))
		if r.State != StateLive || r.Type != typ {
			t.Errorf("%s: state %q type %v, want live %v (err %v)", name, r.State, r.Type, typ, r.Err)
		}
		if len(r.Inodes) != 0 || len(r.Listeners) != 0 {
			t.Errorf("%s: inodes %v listeners %v, want none: /proc lists ./%s", name, r.Inodes, r.Listeners, name)
		}
	}
}

// When a live listener's file is deleted and a stale socket file takes its
// path, /proc/net/unix still lists the listener under the path; the
// connect, which goes by the file, shows the file is stale.
func TestProbeTrustsTheFileOverAnOldListenerOfTheSameName(t *testing.T) {
	dir := sockDir(t)
	path := filepath.Join(dir, "s.sock")
	listenAt(t, Stream, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	staleAt(t, path)
	if fi, err := os.Lstat(path); err != nil || len(listeningAt(mustTable(t), fi)) == 0 {
		t.Fatal("/proc/net/unix does not list the old listener; the test shows nothing")
	}
	r := Probe(context.Background(), path)
	if r.State != StateStale || len(r.Listeners) != 0 {
		t.Errorf("state %q listeners %+v, want stale with none", r.State, r.Listeners)
	}
}

func mustTable(t *testing.T) []sockEntry {
	t.Helper()
	table, err := readSockTable()
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func TestCleanRemovesOnlyTheStaleSocket(t *testing.T) {
	dir := sockDir(t)
	names := everyKind(t, dir)
	before := map[string]Result{}
	for _, name := range names {
		before[name] = Probe(context.Background(), filepath.Join(dir, name))
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		r, err := Clean(context.Background(), path)
		if err != nil {
			t.Errorf("Clean(%s): %v", name, err)
		}
		if r.Removed != (name == "stale.sock") {
			t.Errorf("Clean(%s) removed = %v", name, r.Removed)
		}
		_, err = os.Lstat(path)
		gone := errors.Is(err, fs.ErrNotExist)
		if wantGone := name == "stale.sock" || name == "missing"; gone != wantGone {
			t.Errorf("after Clean(%s): gone = %v, want %v", name, gone, wantGone)
		}
	}
	// The symlink to the stale socket was left alone, and so was the
	// stale socket until Clean was called on its own path.
	if r := Probe(context.Background(), filepath.Join(dir, "stalelink")); r.Kind != KindSymlink || r.Resolved.Kind != KindMissing {
		t.Errorf("stalelink after Clean: %+v, want a symlink to what is now missing", r)
	}
	// Everything else is what it was.
	for _, name := range names {
		if name == "stale.sock" || name == "stalelink" {
			continue
		}
		r := Probe(context.Background(), filepath.Join(dir, name))
		if b := before[name]; r.Kind != b.Kind || r.State != b.State {
			t.Errorf("%s: was %s %s, is %s %s after Clean", name, b.Kind, b.State, r.Kind, r.State)
		}
	}
}

func TestCleanOfSymlinkToStaleSocketKeepsBoth(t *testing.T) {
	dir := sockDir(t)
	staleAt(t, filepath.Join(dir, "stale.sock"))
	symlink(t, "stale.sock", filepath.Join(dir, "link"))
	r, err := Clean(context.Background(), filepath.Join(dir, "link"))
	if err != nil || r.Removed {
		t.Fatalf("Clean(link) = removed %v, %v; want nothing removed, no error", r.Removed, err)
	}
	for _, name := range []string{"link", "stale.sock"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The end-to-end output of probe, for each kind of path, as a person reads
// it. The fields that vary between runs (directory, pid, command, user and
// group names) are replaced before formatting, so that columns and wording
// are checked as they are.
func TestProbeOutputGolden(t *testing.T) {
	dir := sockDir(t)
	var results []Result
	for _, name := range everyKind(t, dir) {
		r := Probe(context.Background(), filepath.Join(dir, name))
		normalizeResult(&r, dir)
		results = append(results, r)
	}
	var b strings.Builder
	if err := WriteProbe(&b, results); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "probe_live.golden", b.String())
}

func normalizeResult(r *Result, dir string) {
	r.Path = strings.Replace(r.Path, dir, "$DIR", 1)
	if r.File != nil {
		f := *r.File
		f.User, f.Group = "$USER", "$GROUP"
		r.File = &f
	}
	for i := range r.Inodes {
		r.Inodes[i] = 4242
	}
	for i := range r.Listeners {
		r.Listeners[i] = Process{PID: 4242, Command: "$COMMAND", UID: 4242}
	}
	if r.Resolved != nil {
		normalizeResult(r.Resolved, dir)
	}
}

// /var/run/x.sock is /run/x.sock when /var/run is a symlink to /run: Probe
// finds the listener that bound the real path through the link.
func TestProbeFindsListenerThroughSymlinkedDirectory(t *testing.T) {
	dir := sockDir(t)
	mkdir(t, filepath.Join(dir, "real"), 0o755)
	symlink(t, "real", filepath.Join(dir, "alias"))
	listenAt(t, Stream, filepath.Join(dir, "real", "s.sock"))
	r := Probe(context.Background(), filepath.Join(dir, "alias", "s.sock"))
	if r.State != StateLive || r.Type != Stream || len(r.Listeners) != 1 || r.Listeners[0].PID != os.Getpid() {
		t.Errorf("state %q type %v listeners %+v, want live stream with the test as listener", r.State, r.Type, r.Listeners)
	}
}

// listeningAt compares files, not strings: the path in /proc/net/unix
// matches the probed path when both name the same file now.
func TestListeningAtMatchesTheSameFileByAnyName(t *testing.T) {
	dir := sockDir(t)
	mkdir(t, filepath.Join(dir, "real"), 0o755)
	symlink(t, "real", filepath.Join(dir, "alias"))
	writeFile(t, filepath.Join(dir, "real", "a.sock"), 0o644)
	writeFile(t, filepath.Join(dir, "real", "b.sock"), 0o644)
	if err := os.Link(filepath.Join(dir, "real", "a.sock"), filepath.Join(dir, "hard.sock")); err != nil {
		t.Fatal(err)
	}
	table := []sockEntry{
		{Inode: 1, Type: Stream, Listening: true, Name: filepath.Join(dir, "real", "a.sock")},
		{Inode: 2, Type: Stream, Connected: true, Name: filepath.Join(dir, "real", "a.sock")}, // a connection, not a listener
		{Inode: 3, Type: Datagram, Listening: true, Name: filepath.Join(dir, "real", "b.sock")},
		{Inode: 4, Type: Stream, Listening: true, Name: "real/a.sock"}, // relative: not comparable
		{Inode: 5, Type: Stream, Listening: true, Name: "@" + filepath.Join(dir, "real", "a.sock")},
	}
	for _, tc := range []struct {
		path   string
		inodes []uint64
	}{
		{"real/a.sock", []uint64{1}},
		{"alias/a.sock", []uint64{1}},
		{"alias/../real/b.sock", []uint64{3}},
		{"hard.sock", []uint64{1}},
		{"real", nil},
	} {
		fi, err := os.Lstat(filepath.Join(dir, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		var inodes []uint64
		for _, e := range listeningAt(table, fi) {
			inodes = append(inodes, e.Inode)
		}
		if !slices.Equal(inodes, tc.inodes) {
			t.Errorf("listeningAt(%s) = %v, want %v", tc.path, inodes, tc.inodes)
		}
	}
}
