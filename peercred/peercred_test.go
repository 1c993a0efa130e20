package peercred

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// childEnv switches the test binary into a child process that connects or
// sends to the address in childAddrEnv (see childMain).
const (
	childEnv     = "PEERCRED_TEST_CHILD"
	childAddrEnv = "PEERCRED_TEST_ADDR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode, os.Getenv(childAddrEnv)))
	}
	goleak.VerifyTestMain(m)
}

func TestNewReportsWhatIsKnownAndWhatIsNot(t *testing.T) {
	tests := []struct {
		name         string
		pid          int
		groups       []int
		wantPID      int
		wantPIDOK    bool
		wantGroups   []int
		wantGroupsOK bool
		wantSource   string
		wantString   string
	}{
		{"everything known", 42, []int{4, 27}, 42, true, []int{4, 27}, true, "synthetic",
			"uid=1000 gid=100 pid=42 groups=[4 27]"},
		{"no groups at all is known", 42, []int{}, 42, true, []int{}, true, "synthetic",
			"uid=1000 gid=100 pid=42 groups=[]"},
		{"nil groups are unknown", 42, nil, 42, true, nil, false, "",
			"uid=1000 gid=100 pid=42 groups=?"},
		{"pid 0 is unknown", 0, []int{4}, 0, false, []int{4}, true, "synthetic",
			"uid=1000 gid=100 pid=? groups=[4]"},
		{"more groups than fit inline", 7, seq(100, 40), 7, true, seq(100, 40), true, "synthetic",
			"uid=1000 gid=100 pid=7 groups=" + fmt.Sprint(seq(100, 40))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(1000, 100, tt.pid, tt.groups)
			if c.UID != 1000 || c.GID != 100 {
				t.Errorf("UID, GID = %d, %d; want 1000, 100", c.UID, c.GID)
			}
			if pid, ok := c.PID(); pid != tt.wantPID || ok != tt.wantPIDOK {
				t.Errorf("PID() = %d, %v; want %d, %v", pid, ok, tt.wantPID, tt.wantPIDOK)
			}
			gs, ok := c.Groups()
			if ok != tt.wantGroupsOK || !slices.Equal(gs, tt.wantGroups) || (gs == nil) != (tt.wantGroups == nil) {
				t.Errorf("Groups() = %#v, %v; want %#v, %v", gs, ok, tt.wantGroups, tt.wantGroupsOK)
			}
			if got := c.GroupsSource(); got != tt.wantSource {
				t.Errorf("GroupsSource() = %q, want %q", got, tt.wantSource)
			}
			if got := c.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
		})
	}
}

func seq(from, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = from + i
	}
	return s
}

func TestCredDoesNotShareGroupsWithCallers(t *testing.T) {
	in := []int{4, 27}
	c := New(1, 1, 1, in)
	in[0] = 999 // New copied
	gs, _ := c.Groups()
	gs[1] = 999 // Groups returned a copy
	if got, _ := c.Groups(); !slices.Equal(got, []int{4, 27}) {
		t.Fatalf("Groups() = %v after callers changed their slices, want [4 27]", got)
	}
}

func TestAppendGroupsAppendsWithoutAllocating(t *testing.T) {
	c := New(1, 1, 1, []int{4, 27})
	var buf [8]int
	got, ok := c.AppendGroups(append(buf[:0], 1))
	if !ok || !slices.Equal(got, []int{1, 4, 27}) {
		t.Fatalf("AppendGroups = %v, %v; want [1 4 27], true", got, ok)
	}
	if got, ok := New(1, 1, 1, nil).AppendGroups(buf[:1]); ok || len(got) != 1 {
		t.Fatalf("AppendGroups with unknown groups = %v, %v; want dst unchanged, false", got, ok)
	}
	allocs := testing.AllocsPerRun(100, func() {
		gs, _ := c.AppendGroups(buf[:0])
		if len(gs) != 2 {
			panic("lost groups")
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendGroups into a big enough buffer allocates %v times, want 0", allocs)
	}
}

func TestGetRejectsWhatIsNotAUnixSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tcp, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	pipe, other := net.Pipe()
	defer pipe.Close()
	defer other.Close()
	for _, tt := range []struct {
		name string
		conn net.Conn
	}{{"tcp", tcp}, {"net.Pipe", pipe}, {"nil", nil}} {
		if _, err := Get(tt.conn); !errors.Is(err, ErrUnsupportedConnType) {
			t.Errorf("Get(%s) error = %v, want ErrUnsupportedConnType", tt.name, err)
		}
	}
}

func TestFromFDRejectsANegativeDescriptor(t *testing.T) {
	if _, err := FromFD(-1); err == nil {
		t.Fatal("FromFD(-1) succeeded")
	}
}

// shortTempDir is a private directory with a short path, for socket names
// that must fit in sun_path.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// countLookups replaces the name lookups with ones that count their calls and
// know only root, and empties the caches; Cleanup puts everything back.
func countLookups(t *testing.T) (users, groups *atomic.Int64) {
	t.Helper()
	users, groups = new(atomic.Int64), new(atomic.Int64)
	oldUser, oldGroup := lookupUserName, lookupGroupName
	lookupUserName = func(uid int) (string, bool) {
		users.Add(1)
		return oldUser(uid)
	}
	lookupGroupName = func(gid int) (string, bool) {
		groups.Add(1)
		return oldGroup(gid)
	}
	userNames.reset()
	groupNames.reset()
	t.Cleanup(func() {
		lookupUserName, lookupGroupName = oldUser, oldGroup
		userNames.reset()
		groupNames.reset()
	})
	return users, groups
}

func (nc *nameCache) reset() {
	nc.mu.Lock()
	nc.names = nil
	nc.mu.Unlock()
}

func TestNamesAreSafeForConcurrentUse(t *testing.T) {
	countLookups(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for id := range 200 {
				if got, want := UserName(5000000+id), strconv.Itoa(5000000+id); got != want {
					t.Errorf("goroutine %d: UserName = %q, want %q", i, got, want)
					return
				}
				GroupName(id)
			}
		})
	}
	wg.Wait()
}

func TestNameCacheStopsGrowingAtItsLimit(t *testing.T) {
	users, _ := countLookups(t)
	lookupUserName = func(uid int) (string, bool) {
		users.Add(1)
		return "", false
	}
	for id := range maxCachedNames + 10 {
		UserName(id)
	}
	userNames.mu.RLock()
	n := len(userNames.names)
	userNames.mu.RUnlock()
	if n != maxCachedNames {
		t.Fatalf("cache holds %d names, want %d", n, maxCachedNames)
	}
	before := users.Load()
	UserName(maxCachedNames + 5) // beyond the limit: looked up again
	UserName(0)                  // within: cached
	if got := users.Load() - before; got != 1 {
		t.Fatalf("%d lookups after the cache filled, want 1", got)
	}
}
