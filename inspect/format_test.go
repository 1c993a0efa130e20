package inspect

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func file(mode fs.FileMode, uid int, user string, gid int, group string) *FileInfo {
	return &FileInfo{Mode: mode, UID: uid, User: user, GID: gid, Group: group}
}

// fixedResults has one Result of each shape WriteProbe must write, with
// fixed values, so that the golden files show every wording.
func fixedResults() []Result {
	sock := fs.ModeSocket | 0o660
	return []Result{
		{Path: "/run/docker.sock", Kind: KindSocket, File: file(sock, 0, "root", 998, "docker"),
			State: StateLive, Type: Stream, MayConnect: yes(), Inodes: []uint64{4711},
			Listeners: []Process{{PID: 123, Command: "dockerd", UID: 0}}},
		{Path: "/run/pg/.s.PGSQL.5432", Kind: KindSocket, File: file(fs.ModeSocket|0o777, 70, "postgres", 70, "postgres"),
			State: StateLive, Type: SeqPacket, MayConnect: yes(), Inodes: []uint64{5001},
			Listeners: []Process{{PID: 200, Command: "postgres", UID: 70}, {PID: 201, Command: "postgres", UID: 70}}},
		{Path: "/run/private.sock", Kind: KindSocket, File: file(fs.ModeSocket|0o600, 0, "root", 0, "root"),
			State: StateLive, Type: Datagram, MayConnect: no(), Inodes: []uint64{6001}},
		{Path: "/srv/app.sock", Kind: KindSocket, File: file(sock, 1000, "", 1000, ""),
			State: StateLive, Type: Stream},
		{Path: "/tmp/old.sock", Kind: KindSocket, File: file(fs.ModeSocket|0o755, 0, "root", 0, "root"),
			State: StateStale, MayConnect: yes()},
		{Path: "/tmp/gone.sock", Kind: KindSocket, File: file(fs.ModeSocket|0o755, 0, "root", 0, "root"),
			State: StateStale, MayConnect: yes(), Removed: true},
		{Path: "/tmp/bound.sock", Kind: KindSocket, File: file(fs.ModeSocket|0o755, 0, "root", 0, "root"),
			State: StateNotListening, Type: Stream, MayConnect: yes()},
		{Path: "/mnt/odd.sock", Kind: KindSocket, File: file(fs.ModeSocket|0o755, -1, "", -1, ""),
			State: StateUnknown, Err: errors.New("dial unixgram /mnt/odd.sock: i/o timeout")},
		{Path: "/run/missing.sock", Kind: KindMissing},
		{Path: "/etc/passwd", Kind: KindRegular, File: file(0o644, 0, "root", 0, "root")},
		{Path: "/usr/bin/passwd", Kind: KindRegular, File: file(fs.ModeSetuid|0o755, 0, "root", 0, "root")},
		{Path: "/tmp", Kind: KindDir, File: file(fs.ModeDir|fs.ModeSticky|0o777, 0, "root", 0, "root")},
		{Path: "/run/initctl", Kind: KindFIFO, File: file(fs.ModeNamedPipe|0o600, 0, "root", 0, "root")},
		{Path: "/dev/null", Kind: KindCharDevice, File: file(fs.ModeDevice|fs.ModeCharDevice|0o666, 0, "root", 0, "root")},
		{Path: "/dev/sda", Kind: KindBlockDevice, File: file(fs.ModeDevice|0o660, 0, "root", 6, "disk")},
		{Path: "/var/run/docker.sock", Kind: KindSymlink, File: file(fs.ModeSymlink|0o777, 0, "root", 0, "root"),
			Target: "../run/docker.sock",
			Resolved: &Result{Path: "/var/run/../run/docker.sock", Kind: KindSocket, File: file(sock, 0, "root", 998, "docker"),
				State: StateLive, Type: Stream, MayConnect: yes(), Inodes: []uint64{4711},
				Listeners: []Process{{PID: 123, Command: "dockerd", UID: 0}}}},
		{Path: "/tmp/a", Kind: KindSymlink, File: file(fs.ModeSymlink|0o777, 0, "root", 0, "root"),
			Target: "b",
			Resolved: &Result{Path: "/tmp/b", Kind: KindSymlink, File: file(fs.ModeSymlink|0o777, 0, "root", 0, "root"),
				Target: "/nowhere", Resolved: &Result{Path: "/nowhere", Kind: KindMissing}}},
		{Path: "/tmp/loop", Kind: KindSymlink, File: file(fs.ModeSymlink|0o777, 0, "root", 0, "root"),
			Target: "loop", Err: errors.New("more than 40 symlinks in a row")},
		{Path: "/root/secret/x.sock", Kind: KindUnknown,
			Err: &fs.PathError{Op: "lstat", Path: "/root/secret/x.sock", Err: fs.ErrPermission}},
	}
}

func TestWriteProbeGolden(t *testing.T) {
	var b strings.Builder
	if err := WriteProbe(&b, fixedResults()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "probe.golden", b.String())
}

func TestWriteProbeJSONGolden(t *testing.T) {
	var b strings.Builder
	if err := WriteProbeJSON(&b, fixedResults()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "probe.json.golden", b.String())
}

func fixedListeners() []Listener {
	return []Listener{
		{Name: "/run/dbus/system_bus_socket", Type: Stream, Inode: 1001,
			File:      file(fs.ModeSocket|0o666, 0, "root", 0, "root"),
			Processes: []Process{{PID: 512, Command: "dbus-daemon", UID: 101}}, Clients: 14},
		{Name: "/run/pg/.s.PGSQL.5432", Type: SeqPacket, Inode: 1002,
			File:      file(fs.ModeSocket|0o777, 70, "postgres", 70, "postgres"),
			Processes: []Process{{PID: 200, Command: "postgres", UID: 70}, {PID: 201, Command: "postgres", UID: 70}}, Clients: 3},
		{Name: "/run/systemd/journal/socket", Type: Datagram, Inode: 1003,
			File: file(fs.ModeSocket|0o666, 0, "root", 0, "root"), Clients: -1},
		{Name: "/run/user/1000/app.sock", Type: Stream, Inode: 1004,
			File: file(fs.ModeSocket|0o600, 1000, "", 1000, ""), Clients: 0},
		{Name: "./relative.sock", Type: Stream, Inode: 1005,
			Processes: []Process{{PID: 9000, UID: 1000}}, Clients: 1},
		{Name: "@/tmp/.X11-unix/X0", Type: Stream, Inode: 1006,
			Processes: []Process{{PID: 800, Command: "Xorg", UID: 0}}, Clients: 2},
	}
}

func TestWriteListGolden(t *testing.T) {
	var b strings.Builder
	if err := WriteList(&b, fixedListeners()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "list.golden", b.String())
}

func TestWriteListJSONGolden(t *testing.T) {
	var b strings.Builder
	if err := WriteListJSON(&b, fixedListeners()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "list.json.golden", b.String())
}

func TestWriteListOfNothingIsTheHeader(t *testing.T) {
	var b strings.Builder
	if err := WriteList(&b, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "PATH  TYPE  OWNER  MODE  PID  COMMAND  CLIENTS\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLsModeWritesWhatLsWrites(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		want string
	}{
		{fs.ModeSocket | 0o660, "srw-rw----"},
		{fs.ModeDir | fs.ModeSticky | 0o777, "drwxrwxrwt"},
		{fs.ModeDir | fs.ModeSticky | 0o770, "drwxrwx--T"},
		{fs.ModeSetuid | 0o755, "-rwsr-xr-x"},
		{fs.ModeSetgid | 0o640, "-rw-r-S---"},
		{fs.ModeSymlink | 0o777, "lrwxrwxrwx"},
		{fs.ModeNamedPipe | 0o600, "prw-------"},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, "crw-rw-rw-"},
		{fs.ModeDevice | 0o660, "brw-rw----"},
	} {
		if got := lsMode(tc.mode); got != tc.want {
			t.Errorf("lsMode(%v) = %q, want %q", tc.mode, got, tc.want)
		}
	}
}
