// Package policy decides who may use a socket, from the peer's credentials
// as package peercred reports them. It knows nothing of sockets.
//
// A Policy is a list of rules built from a Spec: allow or deny a user (by name
// or uid), a group (by name or gid), or the user the server runs as
// (same-user). Names are resolved to ids once, in New; an unknown name is an
// error, never a rule silently dropped. Rules match ids, not names, so a user
// renamed later keeps its rules, and two names for one uid are one user.
//
// Decide evaluates every rule and reports the one that decided:
//
//  1. a matching deny rule denies, whatever allows;
//  2. otherwise a matching allow rule allows;
//  3. otherwise the peer is denied ("default-deny").
//
// When several rules of a kind match, the one reported is the first in the
// order users, uids, same-user, groups, gids, each in the Spec's order.
//
// A group rule matches the peer's primary gid and its supplementary groups as
// the kernel reports them (SO_PEERGROUPS on Linux, LOCAL_PEERCRED on macOS and
// FreeBSD): the groups the peer process really had when it connected. Only
// when the kernel cannot say (Linux before 4.13, or a datagram whose sender's
// /proc entry is gone) does Decide fall back to the group database, asking
// which groups the peer's uid belongs to (os/user: LookupId, GroupIds), and
// then the rule says so ("allow-group wheel (gid 10, from group database)").
// The database is weaker evidence: it says which groups the user would get at
// its next login, not which the process has now. A process that dropped a
// group (a daemon calling setgroups(2) to shed privileges, or a sandbox)
// still matches it there; one that gained a group (newgrp, sg, a setgid
// helper) does not; membership changed since the process started shows up
// though the process never had it; and a uid with no database entry (a
// container's, say) has no supplementary groups at all. Because a deny rule
// that cannot be checked must not let a peer through, a policy with deny-group
// rules denies a peer whose groups neither the kernel nor the database can
// give ("groups-unknown").
//
// On macOS and FreeBSD the kernel reports at most 16 groups, so a peer in
// more may match fewer group rules than it should, deny rules included.
//
// A Policy does not change after New and is safe for concurrent use. Decide
// does not allocate unless it falls back to the group database.
package policy

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/udsgate/udsgate/peercred"
)

// ErrInvalidRule reports a rule that can match no one: an empty name, or an
// id outside 0 to 4294967294 ((uid_t)-1 is not an id). It is an error in the
// input.
var ErrInvalidRule = errors.New("invalid rule")

// Spec lists the rules of a policy. Users and groups are names or decimal
// numbers: a string of digits is always an id, never looked up as a name.
// The zero Spec denies everyone.
type Spec struct {
	AllowUsers, AllowGroups, DenyUsers, DenyGroups []string // names or numbers
	AllowUIDs, AllowGIDs, DenyUIDs, DenyGIDs       []int
	SameUser                                       bool // allow the uid the server runs as (os.Geteuid at New)
}

// Decision is what Decide concluded and the rule that decided, for the log.
type Decision struct {
	Allow bool
	// Rule names the rule that decided, in words that stay the same from
	// release to release: "deny-user bob (uid 1001)", "deny-uid 1001",
	// "allow-group wheel (gid 10)", "allow-gid 10 (from group database)",
	// "same-user (uid 0)", "groups-unknown (deny-group rules cannot be
	// checked)", "no-credentials", or "default-deny".
	Rule string
}

// String returns "allow" or "deny".
func (d Decision) String() string {
	if d.Allow {
		return "allow"
	}
	return "deny"
}

// Rule texts that are not about one id.
const (
	ruleDefaultDeny   = "default-deny"
	ruleGroupsUnknown = "groups-unknown (deny-group rules cannot be checked)"
	ruleNoCredentials = "no-credentials"
)

// Policy is a set of rules resolved to ids. Make one with New.
type Policy struct {
	denyUsers, denyGroups   idRules
	allowUsers, allowGroups idRules
	sameUser                bool
	euid                    int
	sameUserRule            string
	summary                 string
}

// rule is one rule, its texts made once so that Decide need not format.
type rule struct {
	id     int
	order  int    // position in evaluation order, to report the first match
	text   string // "allow-group wheel (gid 10)"
	dbText string // "allow-group wheel (gid 10, from group database)"
}

// idRules holds rules of one kind: ids sorted for binary search, and
// rules[i] the rule for ids[i]. The ids are apart from the rules so that a
// search touches only a dense []int.
type idRules struct {
	ids   []int
	rules []rule
}

func (rs *idRules) len() int { return len(rs.ids) }

func (rs *idRules) find(id int) *rule {
	lo, hi := 0, len(rs.ids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs.ids[m] < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(rs.ids) && rs.ids[lo] == id {
		return &rs.rules[lo]
	}
	return nil
}

// matchGroups returns the first rule (in evaluation order) that matches the
// primary gid or one of groups, or nil.
func (rs *idRules) matchGroups(gid int, groups []int) *rule {
	best := rs.find(gid)
	for _, g := range groups {
		if r := rs.find(g); r != nil && (best == nil || r.order < best.order) {
			best = r
		}
	}
	return best
}

// lookupGroupIDs is the group-database fallback, a variable so that tests
// can stand in for the database.
var lookupGroupIDs = func(uid int) ([]int, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", u.Username, err)
	}
	gids := make([]int, 0, len(ids))
	for _, s := range ids {
		g, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("groups of %s: gid %q: %w", u.Username, s, err)
		}
		gids = append(gids, g)
	}
	return gids, nil
}

// New resolves the names in s to ids and returns the policy. An unknown user
// or group name is an error that wraps user.UnknownUserError or
// user.UnknownGroupError and names the rule; an empty name or an id out of
// range wraps ErrInvalidRule. A failure of the user database itself is
// returned as it is, wrapped with the rule.
func New(s Spec) (*Policy, error) {
	b := &builder{}
	p := &Policy{}
	var err error
	if p.denyUsers, err = b.users("deny", s.DenyUsers, s.DenyUIDs); err != nil {
		return nil, err
	}
	if p.denyGroups, err = b.groups("deny", s.DenyGroups, s.DenyGIDs); err != nil {
		return nil, err
	}
	if p.allowUsers, err = b.users("allow", s.AllowUsers, s.AllowUIDs); err != nil {
		return nil, err
	}
	if s.SameUser {
		p.sameUser, p.euid = true, os.Geteuid()
		p.sameUserRule = fmt.Sprintf("same-user (uid %d)", p.euid)
		b.texts = append(b.texts, p.sameUserRule)
		b.order++
	}
	if p.allowGroups, err = b.groups("allow", s.AllowGroups, s.AllowGIDs); err != nil {
		return nil, err
	}
	if len(b.texts) == 0 {
		p.summary = "no rules: deny everyone"
	} else {
		p.summary = strings.Join(b.texts, ", ") + "; otherwise deny"
	}
	return p, nil
}

// builder numbers rules in evaluation order and collects their texts for
// Policy.String.
type builder struct {
	order int
	texts []string
}

func (b *builder) users(verb string, names []string, uids []int) (idRules, error) {
	var rs []rule
	for _, name := range names {
		if id, ok, err := parseID(name); err != nil {
			return idRules{}, fmt.Errorf("policy: %s-user %q: %w", verb, name, err)
		} else if ok {
			rs = b.add(rs, id, fmt.Sprintf("%s-uid %d", verb, id), "")
			continue
		}
		u, err := user.Lookup(name)
		if err != nil {
			return idRules{}, fmt.Errorf("policy: %s-user %q: %w", verb, name, err)
		}
		id, err := strconv.Atoi(u.Uid)
		if err != nil {
			return idRules{}, fmt.Errorf("policy: %s-user %q: uid %q: %w", verb, name, u.Uid, err)
		}
		rs = b.add(rs, id, fmt.Sprintf("%s-user %s (uid %d)", verb, name, id), "")
	}
	for _, id := range uids {
		if err := checkID(id); err != nil {
			return idRules{}, fmt.Errorf("policy: %s-uid %d: %w", verb, id, err)
		}
		rs = b.add(rs, id, fmt.Sprintf("%s-uid %d", verb, id), "")
	}
	return sorted(rs), nil
}

func (b *builder) groups(verb string, names []string, gids []int) (idRules, error) {
	var rs []rule
	for _, name := range names {
		if id, ok, err := parseID(name); err != nil {
			return idRules{}, fmt.Errorf("policy: %s-group %q: %w", verb, name, err)
		} else if ok {
			rs = b.add(rs, id, fmt.Sprintf("%s-gid %d", verb, id), fmt.Sprintf("%s-gid %d (from group database)", verb, id))
			continue
		}
		g, err := user.LookupGroup(name)
		if err != nil {
			return idRules{}, fmt.Errorf("policy: %s-group %q: %w", verb, name, err)
		}
		id, err := strconv.Atoi(g.Gid)
		if err != nil {
			return idRules{}, fmt.Errorf("policy: %s-group %q: gid %q: %w", verb, name, g.Gid, err)
		}
		rs = b.add(rs, id, fmt.Sprintf("%s-group %s (gid %d)", verb, name, id),
			fmt.Sprintf("%s-group %s (gid %d, from group database)", verb, name, id))
	}
	for _, id := range gids {
		if err := checkID(id); err != nil {
			return idRules{}, fmt.Errorf("policy: %s-gid %d: %w", verb, id, err)
		}
		rs = b.add(rs, id, fmt.Sprintf("%s-gid %d", verb, id), fmt.Sprintf("%s-gid %d (from group database)", verb, id))
	}
	return sorted(rs), nil
}

// add appends a rule unless one of the same kind already has the id: the
// first one given is the one reported.
func (b *builder) add(rs []rule, id int, text, dbText string) []rule {
	for _, r := range rs {
		if r.id == id {
			return rs
		}
	}
	b.texts = append(b.texts, text)
	b.order++
	return append(rs, rule{id: id, order: b.order, text: text, dbText: dbText})
}

// sorted makes idRules of rules, sorted by id.
func sorted(rules []rule) idRules {
	slices.SortFunc(rules, func(a, b rule) int { return cmp.Compare(a.id, b.id) })
	rs := idRules{ids: make([]int, len(rules)), rules: rules}
	for i, r := range rules {
		rs.ids[i] = r.id
	}
	return rs
}

// maxID is the largest uid or gid: (uid_t)-1 means "no id" to the kernel.
const maxID = 1<<32 - 2

// parseID reports whether s is a decimal id (ok) and whether it is a valid
// one; anything else is a name to look up.
func parseID(s string) (id int, ok bool, err error) {
	if s == "" {
		return 0, false, fmt.Errorf("%w: empty name", ErrInvalidRule)
	}
	if strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, false, fmt.Errorf("%w: ids are 0 to %d", ErrInvalidRule, maxID)
	}
	return int(n), true, nil
}

func checkID(id int) error {
	if id < 0 || id > maxID {
		return fmt.Errorf("%w: ids are 0 to %d", ErrInvalidRule, maxID)
	}
	return nil
}

// Decide says whether the peer c may connect, and which rule decided (see
// the package doc for the order). A nil c is denied ("no-credentials").
func (p *Policy) Decide(c *peercred.Cred) Decision {
	if c == nil {
		return Decision{Rule: ruleNoCredentials}
	}
	if r := p.denyUsers.find(c.UID); r != nil {
		return Decision{Rule: r.text}
	}
	var buf [32]int
	groups, known := c.AppendGroups(buf[:0])
	// The database fallback, looked up at most once and only when needed.
	var dbGroups []int
	var dbErr error
	dbDone := false
	fromDB := func() ([]int, error) {
		if !dbDone {
			dbGroups, dbErr = lookupGroupIDs(c.UID)
			dbDone = true
		}
		return dbGroups, dbErr
	}

	if p.denyGroups.len() > 0 {
		if r := p.denyGroups.matchGroups(c.GID, groups); r != nil {
			return Decision{Rule: r.text}
		}
		if !known {
			gs, err := fromDB()
			if err != nil {
				return Decision{Rule: ruleGroupsUnknown}
			}
			if r := p.denyGroups.matchGroups(c.GID, gs); r != nil {
				return Decision{Rule: r.dbText}
			}
		}
	}
	if r := p.allowUsers.find(c.UID); r != nil {
		return Decision{Allow: true, Rule: r.text}
	}
	if p.sameUser && c.UID == p.euid {
		return Decision{Allow: true, Rule: p.sameUserRule}
	}
	if p.allowGroups.len() > 0 {
		if r := p.allowGroups.matchGroups(c.GID, groups); r != nil {
			return Decision{Allow: true, Rule: r.text}
		}
		if !known {
			// A database failure here only fails to allow.
			if gs, err := fromDB(); err == nil {
				if r := p.allowGroups.matchGroups(c.GID, gs); r != nil {
					return Decision{Allow: true, Rule: r.dbText}
				}
			}
		}
	}
	return Decision{Rule: ruleDefaultDeny}
}

// String summarizes the policy for a startup log line, in evaluation order:
// "deny-user bob (uid 1001), allow-group wheel (gid 10), same-user (uid 0);
// otherwise deny".
func (p *Policy) String() string { return p.summary }
