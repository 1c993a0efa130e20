package gate

import (
	"encoding/json"

	"github.com/udsgate/udsgate/peercred"
)

// Whoami is what the built-in whoami backend writes, as one JSON line: what
// the gate saw of the peer and what it decided. Fields the platform cannot
// tell are omitted (PID) or null (Groups).
type Whoami struct {
	UID          int      `json:"uid"`
	User         string   `json:"user"`
	GID          int      `json:"gid"`
	Group        string   `json:"group"`
	Groups       []int    `json:"groups"`
	GroupNames   []string `json:"group_names"`
	GroupsSource string   `json:"groups_source,omitempty"`
	PID          int      `json:"pid,omitempty"`
	Decision     string   `json:"decision"`
	Rule         string   `json:"rule"`
}

// whoamiLine renders the admission for the whoami backend.
func whoamiLine(a admission) []byte {
	c := a.cred
	w := Whoami{
		UID:          c.UID,
		User:         peercred.UserName(c.UID),
		GID:          c.GID,
		Group:        peercred.GroupName(c.GID),
		GroupsSource: c.GroupsSource(),
		Decision:     a.decision.String(),
		Rule:         a.decision.Rule,
	}
	w.PID, _ = c.PID()
	if groups, ok := c.Groups(); ok {
		w.Groups = groups
		w.GroupNames = make([]string, len(groups))
		for i, gid := range groups {
			w.GroupNames[i] = peercred.GroupName(gid)
		}
	}
	line, err := json.Marshal(w)
	if err != nil {
		panic(err) // a struct of ints and strings always marshals
	}
	return append(line, '\n')
}
