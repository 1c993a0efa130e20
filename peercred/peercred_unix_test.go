//go:build linux || darwin || freebsd

package peercred

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGetReportsOwnCredentials connects to ourselves in every way a stream
// can be made, so the peer is this process on both ends.
func TestGetReportsOwnCredentials(t *testing.T) {
	dir := shortTempDir(t)
	for _, network := range streamNetworks {
		t.Run(network, func(t *testing.T) {
			l, err := net.Listen(network, filepath.Join(dir, network+".sock"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			client, err := net.Dial(network, l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			for _, end := range []struct {
				name string
				conn net.Conn
			}{{"accepted end", server}, {"dialing end", client}} {
				c, err := Get(end.conn)
				if err != nil {
					t.Fatalf("%s: Get: %v", end.name, err)
				}
				checkOwnCred(t, end.name, c)
			}
		})
	}
}

// checkOwnCred checks that c describes this test process.
func checkOwnCred(t *testing.T, what string, c *Cred) {
	t.Helper()
	if c.UID != os.Geteuid() || c.GID != os.Getegid() {
		t.Errorf("%s: uid, gid = %d, %d; want %d, %d", what, c.UID, c.GID, os.Geteuid(), os.Getegid())
	}
	if pid, ok := c.PID(); ok && pid != os.Getpid() {
		t.Errorf("%s: pid = %d, want %d", what, pid, os.Getpid())
	}
	gs, ok := c.Groups()
	if !ok {
		t.Logf("%s: the kernel does not report groups here", what)
		return
	}
	own, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(own)
	slices.Sort(gs)
	switch c.GroupsSource() {
	case sourcePeerGroups, sourceProcStatus:
		// Linux reports exactly the list setgroups(2) made, as getgroups(2) does.
		if !slices.Equal(gs, own) {
			t.Errorf("%s: groups = %v, want os.Getgroups() = %v", what, gs, own)
		}
	default:
		// macOS and FreeBSD leave out the primary gid and stop at 16.
		for _, g := range gs {
			if !slices.Contains(own, g) {
				t.Errorf("%s: group %d is not in os.Getgroups() = %v", what, g, own)
			}
		}
	}
}

func TestNamesAreLookedUpOnceAndNumbersStandInForMissingNames(t *testing.T) {
	users, groups := countLookups(t)
	tests := []struct {
		name string
		f    func(int) string
		id   int
		want string
	}{
		{"root user", UserName, 0, "root"},
		{"root group", GroupName, 0, "root"},
		{"uid without a name", UserName, 4000000, "4000000"},
		{"gid without a name", GroupName, 4000000, "4000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 3 {
				if got := tt.f(tt.id); got != tt.want {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
	// Two ids each, asked three times: one lookup per id.
	if users.Load() != 2 || groups.Load() != 2 {
		t.Fatalf("looked up %d users and %d groups, want 2 and 2", users.Load(), groups.Load())
	}
}
