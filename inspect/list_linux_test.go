package inspect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/udsgate/udsgate/uds"
)

// abstractName returns an abstract name no other test run uses.
func abstractName(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("@udsgate-inspect-test/%d/%s", os.Getpid(), t.Name())
}

func TestListFindsTheTestsListenersWithItsPid(t *testing.T) {
	dir := sockDir(t)
	listenAt(t, Stream, filepath.Join(dir, "stream.sock"))
	listenAt(t, SeqPacket, filepath.Join(dir, "packet.sock"))
	listenAt(t, Datagram, filepath.Join(dir, "gram.sock"))
	staleAt(t, filepath.Join(dir, "stale.sock")) // not listening: not listed
	abstract := abstractName(t)
	listenAt(t, Stream, abstract)

	me := Process{PID: os.Getpid(), Command: myComm(t), UID: os.Geteuid()}
	for _, tc := range []struct {
		prefix string
		want   []Listener // without Inode and File
	}{
		{dir, []Listener{
			{Name: filepath.Join(dir, "gram.sock"), Type: Datagram, Clients: -1},
			{Name: filepath.Join(dir, "packet.sock"), Type: SeqPacket},
			{Name: filepath.Join(dir, "stream.sock"), Type: Stream},
		}},
		{abstract, []Listener{{Name: abstract, Type: Stream}}},
	} {
		ls, err := List(context.Background(), Filter{Path: tc.prefix})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != len(tc.want) {
			t.Fatalf("List(%s) = %+v, want %d listeners", tc.prefix, ls, len(tc.want))
		}
		for i, l := range ls {
			w := tc.want[i]
			if l.Name != w.Name || l.Type != w.Type || l.Clients != w.Clients || l.Inode == 0 {
				t.Errorf("listener %d = %+v, want %+v", i, l, w)
			}
			if len(l.Processes) != 1 || l.Processes[0] != me {
				t.Errorf("%s: processes %+v, want only the test %+v", l.Name, l.Processes, me)
			}
			switch {
			case l.Abstract() && l.File != nil:
				t.Errorf("%s: abstract socket with a file %+v", l.Name, l.File)
			case !l.Abstract() && (l.File == nil || l.File.UID != os.Geteuid() || l.File.Mode.Perm() != 0o660):
				t.Errorf("%s: file %+v, want mode 0660 owned by uid %d", l.Name, l.File, os.Geteuid())
			}
		}
	}
}

func TestListCountsConnectionsAcceptedAndQueued(t *testing.T) {
	dir := sockDir(t)
	path := filepath.Join(dir, "s.sock")
	ln := listenAt(t, Stream, path).(*uds.Listener)
	for range 3 {
		c, err := uds.Dial(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	accepted, err := ln.Accept() // one accepted, two still queued
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accepted.Close() })

	ls, err := List(context.Background(), Filter{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Clients != 3 {
		t.Fatalf("List = %+v, want one listener with 3 clients", ls)
	}
}

func TestListFilters(t *testing.T) {
	dir := sockDir(t)
	listenAt(t, Stream, filepath.Join(dir, "a.sock"))
	listenAt(t, Datagram, filepath.Join(dir, "b.sock"))
	listenAt(t, SeqPacket, filepath.Join(dir, "sub-c.sock"))
	abstract := abstractName(t)
	listenAt(t, Datagram, abstract)
	me := strconv.Itoa(os.Geteuid())
	myName := me
	if u, err := user.LookupId(me); err == nil {
		myName = u.Username
	}
	noOne := strconv.Itoa(unusedUID(t))

	for _, tc := range []struct {
		name   string
		filter Filter
		want   []string // names, dir trimmed
	}{
		{"path prefix is a string prefix", Filter{Path: dir + "/sub"}, []string{"/sub-c.sock"}},
		{"type", Filter{Path: dir, Type: Datagram}, []string{"/b.sock"}},
		{"user by uid", Filter{Path: dir, User: me}, []string{"/a.sock", "/b.sock", "/sub-c.sock"}},
		{"user by name", Filter{Path: dir, User: myName}, []string{"/a.sock", "/b.sock", "/sub-c.sock"}},
		{"another user", Filter{Path: dir, User: noOne}, nil},
		{"abstract by its listener's user", Filter{Path: abstract, User: me}, []string{abstract}},
		{"abstract, another user", Filter{Path: abstract, User: noOne}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := List(context.Background(), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range ls {
				got = append(got, strings.TrimPrefix(l.Name, dir))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// unusedUID returns a uid that owns nothing in the test.
func unusedUID(t *testing.T) int {
	t.Helper()
	if os.Geteuid() == 54321 {
		return 54322
	}
	return 54321
}

func TestListUnknownUserIsUnknownUserError(t *testing.T) {
	_, err := List(context.Background(), Filter{User: "no-such-user-udsgate"})
	var unknown user.UnknownUserError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v (%T), want a user.UnknownUserError", err, err)
	}
}

// ls as a person reads it: the test's own sockets, with the fields that
// vary between runs replaced before formatting so that the columns are as
// they would be.
func TestListOutputGolden(t *testing.T) {
	dir := sockDir(t)
	listenAt(t, Stream, filepath.Join(dir, "stream.sock"))
	listenAt(t, SeqPacket, filepath.Join(dir, "packet.sock"))
	listenAt(t, Datagram, filepath.Join(dir, "gram.sock"))
	c, err := uds.Dial(context.Background(), filepath.Join(dir, "stream.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	abstract := abstractName(t)
	listenAt(t, Stream, abstract)

	var ls []Listener
	for _, prefix := range []string{dir, abstract} {
		found, err := List(context.Background(), Filter{Path: prefix})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, found...)
	}
	for i := range ls {
		l := &ls[i]
		l.Name = strings.Replace(l.Name, dir, "$DIR", 1)
		l.Name = strings.Replace(l.Name, abstract, "@$ABSTRACT", 1)
		if l.File != nil {
			l.File.User, l.File.Group = "$USER", "$GROUP"
		}
		for j := range l.Processes {
			l.Processes[j] = Process{PID: 4242, Command: "$COMMAND", UID: 4242}
		}
	}
	var b strings.Builder
	if err := WriteList(&b, ls); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "list_live.golden", b.String())
}
