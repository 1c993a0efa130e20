package inspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// runAs runs this test binary as a helper (see runHelper) under the given
// uid and gid, and decodes its JSON lines into v's element type. The binary
// is copied where that user may execute it: go test builds it in a private
// directory.
func runAs[T any](t *testing.T, uid, gid int, job string, args ...string) []T {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir := sockDir(t)
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "inspect.test")
	copyFile(t, self, bin, 0o755)

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+job, helperArgsEnv+"="+strings.Join(args, "\n"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s as uid %d: %v\n%s", job, uid, err, stderr.Bytes())
	}
	var got []T
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("helper output %q: %v", sc.Text(), err)
		}
		got = append(got, v)
	}
	return got
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// nobody returns the uid and gid of the user nobody, skipping the test when
// it cannot run processes as another user.
func nobody(t *testing.T) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running a helper as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// An ordinary user sees root's sockets as live or stale, may or may not
// connect by the file's mode, and does not see root's listening process:
// its pid is left blank, not guessed. Clean, which needs a refused connect
// as proof, leaves a stale socket it may not connect to.
func TestProbeAsAnotherUser(t *testing.T) {
	uid, gid := nobody(t)
	dir := sockDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(dir, "private.sock")
	listenAt(t, Stream, private) // 0660 root:root
	open := filepath.Join(dir, "open.sock")
	listenAt(t, SeqPacket, open)
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "stale.sock")
	staleAt(t, stale) // 0755: nobody may not connect

	got := runAs[jsonResult](t, uid, gid, "probe", private, open, stale)
	want := []struct {
		state      State
		typ        string
		mayConnect bool
	}{
		{StateLive, "stream", false},
		{StateLive, "seqpacket", true},
		{StateStale, "", false},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.State != w.state || g.Type != w.typ || g.MayConnect == nil || *g.MayConnect != w.mayConnect {
			t.Errorf("%s as nobody: state %q type %q may_connect %v; want %q %q %v",
				g.Path, g.State, g.Type, g.MayConnect, w.state, w.typ, w.mayConnect)
		}
		if len(g.Listeners) != 0 {
			t.Errorf("%s as nobody: listeners %+v, want none visible", g.Path, g.Listeners)
		}
		if w.state == StateLive && len(g.Inodes) == 0 {
			t.Errorf("%s as nobody: no socket inodes, want the listener's (to say it is not visible)", g.Path)
		}
	}

	cleaned := runAs[jsonResult](t, uid, gid, "clean", stale)
	if len(cleaned) != 1 || cleaned[0].Removed {
		t.Errorf("clean as nobody: %+v, want the stale socket left alone", cleaned)
	}
	if _, err := os.Lstat(stale); err != nil {
		t.Errorf("stale socket after clean as nobody: %v", err)
	}
}

func TestListAsAnotherUserShowsListenersWithoutPid(t *testing.T) {
	uid, gid := nobody(t)
	dir := sockDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	listenAt(t, Stream, filepath.Join(dir, "s.sock"))
	got := runAs[jsonListener](t, uid, gid, "ls", dir)
	if len(got) != 1 {
		t.Fatalf("ls as nobody: %+v, want the one listener", got)
	}
	if l := got[0]; l.Name != filepath.Join(dir, "s.sock") || len(l.Processes) != 0 || l.UID == nil || *l.UID != os.Geteuid() {
		t.Errorf("ls as nobody: %+v, want %s owned by uid %d with no process", l, filepath.Join(dir, "s.sock"), os.Geteuid())
	}
}
