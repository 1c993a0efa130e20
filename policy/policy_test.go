package policy

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/udsgate/udsgate/peercred"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeGroupDB stands in for the group database during one test: uid 3000 is
// in 4242, uid 3001 in 666, uid 3002 in nothing, any other uid is unknown.
// It counts its lookups.
func fakeGroupDB(t *testing.T) *atomic.Int64 {
	t.Helper()
	calls := new(atomic.Int64)
	old := lookupGroupIDs
	lookupGroupIDs = func(uid int) ([]int, error) {
		calls.Add(1)
		switch uid {
		case 3000:
			return []int{100, 4242}, nil
		case 3001:
			return []int{100, 666}, nil
		case 3002:
			return []int{100}, nil
		}
		return nil, user.UnknownUserIdError(uid)
	}
	t.Cleanup(func() { lookupGroupIDs = old })
	return calls
}

// spec uses names every Unix system has: user daemon (uid 1) and group root
// (gid 0).
var spec = Spec{
	DenyUsers:   []string{"daemon"},
	DenyGIDs:    []int{666},
	AllowUIDs:   []int{1000},
	SameUser:    true,
	AllowGroups: []string{"root"},
	AllowGIDs:   []int{4242},
}

func TestDecide(t *testing.T) {
	calls := fakeGroupDB(t)
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	noDenyGroups, err := New(Spec{AllowGIDs: []int{4242}})
	if err != nil {
		t.Fatal(err)
	}
	euid := os.Geteuid()
	const nobody = 2000 // a uid no rule names
	tests := []struct {
		name      string
		p         *Policy
		cred      *peercred.Cred
		allow     bool
		rule      string
		wantCalls int64 // lookups in the group database
	}{
		{"deny user beats allow group", p, peercred.New(1, 0, 1, []int{4242}), false, "deny-user daemon (uid 1)", 0},
		{"deny gid beats allow uid", p, peercred.New(1000, 100, 1, []int{666}), false, "deny-gid 666", 0},
		{"deny gid beats allow group", p, peercred.New(nobody, 0, 1, []int{666}), false, "deny-gid 666", 0},
		{"deny gid as primary group", p, peercred.New(1000, 666, 1, []int{}), false, "deny-gid 666", 0},
		{"allow by uid number", p, peercred.New(1000, 100, 1, []int{}), true, "allow-uid 1000", 0},
		{"allow by same user", p, peercred.New(euid, 100, 1, []int{}), true, fmt.Sprintf("same-user (uid %d)", euid), 0},
		{"allow by primary group", p, peercred.New(nobody, 0, 1, []int{}), true, "allow-group root (gid 0)", 0},
		{"allow by supplementary group only", p, peercred.New(nobody, 100, 1, []int{5, 4242}), true, "allow-gid 4242", 0},
		{"first group rule reported", p, peercred.New(nobody, 100, 1, []int{4242, 0}), true, "allow-group root (gid 0)", 0},
		{"no rule matches", p, peercred.New(nobody, 100, 1, []int{5, 6}), false, "default-deny", 0},
		{"kernel groups are not second-guessed", p, peercred.New(3000, 100, 1, []int{}), false, "default-deny", 0},
		{"fallback allows from the database", p, peercred.New(3000, 100, 1, nil), true, "allow-gid 4242 (from group database)", 1},
		{"fallback denies from the database", p, peercred.New(3001, 100, 1, nil), false, "deny-gid 666 (from group database)", 1},
		{"fallback finds nothing", p, peercred.New(3002, 100, 1, nil), false, "default-deny", 1},
		{"primary group needs no database", noDenyGroups, peercred.New(4000, 4242, 1, nil), true, "allow-gid 4242", 0},
		{"unknown groups fail closed with deny-group rules", p, peercred.New(4000, 100, 1, nil), false, "groups-unknown (deny-group rules cannot be checked)", 1},
		{"unknown groups only fail to allow otherwise", noDenyGroups, peercred.New(4000, 100, 1, nil), false, "default-deny", 1},
		{"unchecked deny-group rules beat allow user", p, peercred.New(1000, 100, 1, nil), false, "groups-unknown (deny-group rules cannot be checked)", 1},
		{"no credentials", p, nil, false, "no-credentials", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			d := tt.p.Decide(tt.cred)
			if d.Allow != tt.allow || d.Rule != tt.rule {
				t.Errorf("Decide(%v) = %v %q; want %v %q", tt.cred, d, d.Rule, Decision{Allow: tt.allow}, tt.rule)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d group database lookups, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestFallbackUsesTheRealGroupDatabase(t *testing.T) {
	p, err := New(Spec{AllowGroups: []string{"root"}})
	if err != nil {
		t.Fatal(err)
	}
	// root is in group root in every group database; the kernel "did not
	// say", and the primary gid is another.
	d := p.Decide(peercred.New(0, 12345, 1, nil))
	if want := "allow-group root (gid 0, from group database)"; !d.Allow || d.Rule != want {
		t.Fatalf("Decide = %v %q, want allow %q", d, d.Rule, want)
	}
}

func TestNewNamesWhatItCannotResolve(t *testing.T) {
	const nosuch = "udsgate-no-such-name"
	tests := []struct {
		name  string
		spec  Spec
		check func(error) bool
		want  string
	}{
		{"unknown allow user", Spec{AllowUsers: []string{"root", nosuch}},
			func(err error) bool { var e user.UnknownUserError; return errors.As(err, &e) && string(e) == nosuch },
			`allow-user "` + nosuch + `"`},
		{"unknown deny user", Spec{DenyUsers: []string{nosuch}},
			func(err error) bool { var e user.UnknownUserError; return errors.As(err, &e) }, `deny-user "` + nosuch + `"`},
		{"unknown allow group", Spec{AllowGroups: []string{nosuch}},
			func(err error) bool { var e user.UnknownGroupError; return errors.As(err, &e) && string(e) == nosuch },
			`allow-group "` + nosuch + `"`},
		{"unknown deny group", Spec{DenyGroups: []string{nosuch}},
			func(err error) bool { var e user.UnknownGroupError; return errors.As(err, &e) }, `deny-group "` + nosuch + `"`},
		{"negative uid", Spec{AllowUIDs: []int{-1}},
			func(err error) bool { return errors.Is(err, ErrInvalidRule) }, "allow-uid -1"},
		{"(gid_t)-1", Spec{DenyGroups: []string{"4294967295"}},
			func(err error) bool { return errors.Is(err, ErrInvalidRule) }, `deny-group "4294967295"`},
		{"empty name", Spec{AllowUsers: []string{""}},
			func(err error) bool { return errors.Is(err, ErrInvalidRule) }, `allow-user ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.spec)
			if err == nil {
				t.Fatalf("New succeeded: %v", p)
			}
			if !tt.check(err) {
				t.Errorf("New error %v (%T) is not the expected kind", err, errors.Unwrap(err))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error %q does not name the rule %s", err, tt.want)
			}
		})
	}
}

func TestNumbersAreIDsWithoutLookingThemUp(t *testing.T) {
	// No user or group has these ids, and that is fine: containers have
	// uids without names.
	p, err := New(Spec{AllowUsers: []string{"3999999"}, AllowGroups: []string{"3999998"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(peercred.New(3999999, 1, 1, []int{})); !d.Allow || d.Rule != "allow-uid 3999999" {
		t.Errorf("Decide = %v %q, want allow by allow-uid 3999999", d, d.Rule)
	}
	if d := p.Decide(peercred.New(5, 1, 1, []int{3999998})); !d.Allow || d.Rule != "allow-gid 3999998" {
		t.Errorf("Decide = %v %q, want allow by allow-gid 3999998", d, d.Rule)
	}
}

func TestStringListsRulesInEvaluationOrder(t *testing.T) {
	p, err := New(Spec{
		AllowUsers: []string{"root", "0"}, // the same uid twice: the first is kept
		AllowGIDs:  []int{10},
		DenyGroups: []string{"daemon"},
		DenyUIDs:   []int{7},
		SameUser:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("deny-uid 7, deny-group daemon (gid 1), allow-user root (uid 0), same-user (uid %d), allow-gid 10; otherwise deny", os.Geteuid())
	if got := p.String(); got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	empty, err := New(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := empty.String(), "no rules: deny everyone"; got != want {
		t.Errorf("String() of an empty policy = %q, want %q", got, want)
	}
	if d := empty.Decide(peercred.New(os.Geteuid(), 0, 1, []int{})); d.Allow {
		t.Errorf("an empty policy allowed: %q", d.Rule)
	}
}

func TestDecisionString(t *testing.T) {
	if got := (Decision{Allow: true}).String(); got != "allow" {
		t.Errorf("allow decision prints %q", got)
	}
	if got := (Decision{}).String(); got != "deny" {
		t.Errorf("deny decision prints %q", got)
	}
}

func TestDecideIsSafeForConcurrentUse(t *testing.T) {
	fakeGroupDB(t)
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				uid := 2000 + (i+j)%3 // uids no user rule names
				c := peercred.New(uid, 100, 1, []int{4242})
				if d := p.Decide(c); !d.Allow || d.Rule != "allow-gid 4242" {
					t.Errorf("Decide = %v %q", d, d.Rule)
					return
				}
				if d := p.Decide(peercred.New(3000, 100, 1, nil)); !d.Allow {
					t.Errorf("fallback Decide = %v %q", d, d.Rule)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecideDoesNotAllocate(t *testing.T) {
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	creds := []*peercred.Cred{
		peercred.New(2000, 100, 1, []int{4, 24, 27, 30, 46, 100, 4242}),
		peercred.New(2000, 100, 1, []int{4, 24, 27}),
		peercred.New(1, 0, 1, []int{}),
	}
	for _, c := range creds {
		if n := testing.AllocsPerRun(100, func() { p.Decide(c) }); n != 0 {
			t.Errorf("Decide(%v) allocates %v times, want 0", c, n)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p, err := New(spec)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		cred *peercred.Cred
	}{
		{"allow by supplementary group", peercred.New(2000, 100, 1, []int{4, 24, 27, 30, 46, 100, 4242})},
		{"default deny", peercred.New(2000, 100, 1, []int{4, 24, 27, 30, 46, 100})},
		{"deny user", peercred.New(1, 0, 1, []int{})},
		{"same user", peercred.New(os.Geteuid(), 100, 1, []int{4, 24, 27})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Decide(bc.cred)
			}
		})
	}
}
