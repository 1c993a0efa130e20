package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteProbe writes results for a person, one line per path:
//
//	/run/x.sock: live stream socket, srw-rw---- root:docker, listener pid 123 (dockerd), you may connect
//
// A symlink takes a second line for its target, marked "->".
func WriteProbe(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		writeProbe(&b, r, 0)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeProbe(b *strings.Builder, r Result, depth int) {
	if depth > 0 {
		b.WriteString(strings.Repeat("  ", depth) + "-> ")
	}
	fmt.Fprintf(b, "%s: %s\n", r.Path, describe(r))
	if r.Resolved != nil {
		writeProbe(b, *r.Resolved, depth+1)
	}
}

// describe is the text after "PATH: ".
func describe(r Result) string {
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	switch r.Kind {
	case KindMissing:
		return "missing"
	case KindUnknown:
		return "cannot probe: " + errText(r.Err)
	case KindSymlink:
		add("symlink to " + r.Target)
	case KindSocket:
		add(socketState(r))
	default:
		add(kindText(r.Kind) + ", not a socket")
	}
	if r.File != nil {
		add(strings.TrimSpace(lsMode(r.File.Mode) + " " + r.File.OwnerString()))
	}
	if r.Kind == KindSocket {
		add(listenerText(r))
		if r.MayConnect != nil && (r.State == StateLive || r.State == StateNotListening) {
			if *r.MayConnect {
				add("you may connect")
			} else {
				add("you may not connect")
			}
		}
	}
	if r.Kind == KindSymlink && r.Err != nil {
		add(errText(r.Err))
	}
	if r.Removed {
		add("removed")
	}
	return strings.Join(parts, ", ")
}

func socketState(r Result) string {
	t := r.Type.String()
	if t != "" {
		t += " "
	}
	switch r.State {
	case StateLive:
		return "live " + t + "socket"
	case StateStale:
		return "stale socket (nothing listens)"
	case StateNotListening:
		return t + "socket bound but not listening"
	}
	return "socket, cannot tell live from stale (" + errText(r.Err) + ")"
}

func listenerText(r Result) string {
	if r.State != StateLive {
		return ""
	}
	switch {
	case len(r.Listeners) > 0:
		ps := make([]string, len(r.Listeners))
		for i, p := range r.Listeners {
			ps[i] = strconv.Itoa(p.PID)
			if p.Command != "" {
				ps[i] += " (" + p.Command + ")"
			}
		}
		if len(ps) == 1 {
			return "listener pid " + ps[0]
		}
		return "listener pids " + strings.Join(ps, ", ")
	case len(r.Inodes) > 0:
		return "listener not visible to you"
	}
	return ""
}

func kindText(k Kind) string {
	switch k {
	case KindRegular:
		return "regular file"
	case KindDir:
		return "directory"
	case KindFIFO:
		return "named pipe"
	case KindCharDevice:
		return "character device"
	case KindBlockDevice:
		return "block device"
	}
	return string(k)
}

func errText(err error) string {
	if err == nil {
		return "no reason given"
	}
	return err.Error()
}

// lsMode writes a mode the way ls -l does ("srw-rw----"), which people
// read more easily than fs.FileMode.String ("Srw-rw----").
func lsMode(m fs.FileMode) string {
	var b [10]byte
	switch kindOf(m) {
	case KindDir:
		b[0] = 'd'
	case KindSymlink:
		b[0] = 'l'
	case KindSocket:
		b[0] = 's'
	case KindFIFO:
		b[0] = 'p'
	case KindCharDevice:
		b[0] = 'c'
	case KindBlockDevice:
		b[0] = 'b'
	case KindOther:
		b[0] = '?'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	special := func(pos int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[pos] == 'x' {
			b[pos] = lower
		} else {
			b[pos] = upper
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b[:])
}

// jsonProcess, jsonResult and jsonListener are the JSON forms, kept apart
// from the Go types so that the format scripts read is written down in one
// place.
type jsonProcess struct {
	PID     int    `json:"pid"`
	Command string `json:"command,omitempty"`
	UID     *int   `json:"uid,omitempty"`
}

type jsonFile struct {
	Mode  string `json:"mode,omitempty"` // "srw-rw----"
	Perm  string `json:"perm,omitempty"` // "0660"
	UID   *int   `json:"uid,omitempty"`
	User  string `json:"user,omitempty"`
	GID   *int   `json:"gid,omitempty"`
	Group string `json:"group,omitempty"`
}

type jsonResult struct {
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
	Live bool   `json:"live"`
	jsonFile
	State      State         `json:"state,omitempty"`
	Type       string        `json:"type,omitempty"`
	MayConnect *bool         `json:"may_connect,omitempty"`
	Inodes     []uint64      `json:"socket_inodes,omitempty"`
	Listeners  []jsonProcess `json:"listeners,omitempty"`
	Target     string        `json:"target,omitempty"`
	Resolved   *jsonResult   `json:"resolved,omitempty"`
	Removed    bool          `json:"removed,omitempty"`
	Error      string        `json:"error,omitempty"`
}

type jsonListener struct {
	Name     string `json:"name"`
	Abstract bool   `json:"abstract"`
	Type     string `json:"type"`
	Inode    uint64 `json:"socket_inode"`
	jsonFile
	Processes []jsonProcess `json:"processes,omitempty"`
	Clients   *int          `json:"clients,omitempty"`
}

func toJSONFile(f *FileInfo) jsonFile {
	if f == nil {
		return jsonFile{}
	}
	j := jsonFile{Mode: lsMode(f.Mode), Perm: fmt.Sprintf("%04o", uint32(f.Mode.Perm()|unixSpecial(f.Mode))), User: f.User, Group: f.Group}
	if f.UID >= 0 {
		uid, gid := f.UID, f.GID
		j.UID, j.GID = &uid, &gid
	}
	return j
}

// unixSpecial returns the setuid, setgid and sticky bits of m in their
// chmod(1) octal places.
func unixSpecial(m fs.FileMode) fs.FileMode {
	var s fs.FileMode
	if m&fs.ModeSetuid != 0 {
		s |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		s |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		s |= 0o1000
	}
	return s
}

func toJSONProcesses(ps []Process) []jsonProcess {
	var js []jsonProcess
	for _, p := range ps {
		j := jsonProcess{PID: p.PID, Command: p.Command}
		if p.UID >= 0 {
			uid := p.UID
			j.UID = &uid
		}
		js = append(js, j)
	}
	return js
}

func toJSONResult(r Result) *jsonResult {
	j := &jsonResult{
		Path: r.Path, Kind: r.Kind, Live: r.Live(), jsonFile: toJSONFile(r.File),
		State: r.State, Type: r.Type.String(), MayConnect: r.MayConnect,
		Inodes: r.Inodes, Listeners: toJSONProcesses(r.Listeners),
		Target: r.Target, Removed: r.Removed,
	}
	if r.Resolved != nil {
		j.Resolved = toJSONResult(*r.Resolved)
	}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	return j
}

// WriteProbeJSON writes one JSON object per result, one per line (JSON
// Lines). The fields are path, kind, live (following symlinks), mode, perm,
// uid, user, gid, group, and for sockets state, type, may_connect,
// socket_inodes and listeners (pid, command, uid); for symlinks target and
// resolved (the target's object); removed and error when they apply.
// Fields that are unknown are left out.
func WriteProbeJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(toJSONResult(r)); err != nil {
			return err
		}
	}
	return nil
}

// WriteList writes listeners for a person, in aligned columns under a
// header: PATH, TYPE, OWNER, MODE, PID, COMMAND, CLIENTS. What is unknown
// or does not apply is "-" (owner and mode of an abstract socket, the pid
// of a listener the caller may not see, clients of a datagram socket).
func WriteList(w io.Writer, ls []Listener) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tTYPE\tOWNER\tMODE\tPID\tCOMMAND\tCLIENTS")
	for _, l := range ls {
		owner, mode := "-", "-"
		if l.File != nil {
			if o := l.File.OwnerString(); o != "" {
				owner = o
			}
			mode = lsMode(l.File.Mode)
		}
		pids, cmds := "-", "-"
		if len(l.Processes) > 0 {
			var ps, cs []string
			seen := map[string]bool{}
			for _, p := range l.Processes {
				ps = append(ps, strconv.Itoa(p.PID))
				if p.Command != "" && !seen[p.Command] {
					seen[p.Command] = true
					cs = append(cs, p.Command)
				}
			}
			pids = strings.Join(ps, ",")
			if len(cs) > 0 {
				cmds = strings.Join(cs, ",")
			}
		}
		clients := "-"
		if l.Clients >= 0 {
			clients = strconv.Itoa(l.Clients)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Type, owner, mode, pids, cmds, clients)
	}
	return tw.Flush()
}

// WriteListJSON writes one JSON object per listener, one per line (JSON
// Lines): name, abstract, type, socket_inode, the file's mode, perm, uid,
// user, gid and group (left out for abstract sockets), processes (pid,
// command, uid; left out when none is visible) and clients (left out for
// datagram sockets).
func WriteListJSON(w io.Writer, ls []Listener) error {
	enc := json.NewEncoder(w)
	for _, l := range ls {
		j := jsonListener{
			Name: l.Name, Abstract: l.Abstract(), Type: l.Type.String(), Inode: l.Inode,
			jsonFile: toJSONFile(l.File), Processes: toJSONProcesses(l.Processes),
		}
		if l.Clients >= 0 {
			c := l.Clients
			j.Clients = &c
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}
