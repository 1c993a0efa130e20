package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// sockEntry is one line of /proc/net/unix: one Unix socket of the caller's
// network namespace, bound or not.
type sockEntry struct {
	Inode uint64     // the socket's own inode (in sockfs), as /proc/PID/fd shows it
	Type  SocketType // 0 for a type this package does not know
	// Listening: a stream or seqpacket socket accepting connections, or a
	// bound datagram socket not connected to a peer (anyone may send to it).
	Listening bool
	// Connected: a connection's end, including the server's end of an
	// accepted connection (or one still waiting in the listen queue), which
	// carries the listener's path.
	Connected bool
	Name      string // the bound path as given to bind(2), "@name" if abstract, "" if unbound
}

// Values in /proc/net/unix (unix_seq_show in net/unix/af_unix.c).
const (
	soAcceptCon    = 0x10000 // __SO_ACCEPTCON in the Flags column: listen(2) was called
	sockStream     = 1       // SOCK_STREAM in the Type column
	sockDgram      = 2       // SOCK_DGRAM
	sockSeqPacket  = 5       // SOCK_SEQPACKET
	ssUnconnected  = 1       // SS_UNCONNECTED in the St column
	ssConnecting   = 2       // SS_CONNECTING: also an accepted-but-not-yet-accept(2)ed connection
	ssConnected    = 3       // SS_CONNECTED
	procNetUnixHdr = "Num"
)

// parseProcNetUnix reads the format of /proc/net/unix:
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//	0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/x.sock
//
// The Inode column is padded to five characters and the path follows it
// after one space, and may itself contain spaces. A line that does not
// parse is skipped: a path with a newline in it splits its line in two, and
// that must not hide the rest of the table.
func parseProcNetUnix(r io.Reader) ([]sockEntry, error) {
	var entries []sockEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, procNetUnixHdr) {
			continue
		}
		e, ok := parseProcNetUnixLine(line)
		if ok {
			entries = append(entries, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/net/unix: %w", err)
	}
	return entries, nil
}

func parseProcNetUnixLine(line string) (sockEntry, bool) {
	var f [7]string
	rest := line
	for i := range f {
		rest = strings.TrimLeft(rest, " ")
		end := strings.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		f[i], rest = rest[:end], rest[end:]
		if f[i] == "" {
			return sockEntry{}, false
		}
	}
	if !strings.HasSuffix(f[0], ":") {
		return sockEntry{}, false
	}
	flags, err1 := strconv.ParseUint(f[3], 16, 32)
	typ, err2 := strconv.ParseUint(f[4], 16, 16)
	st, err3 := strconv.ParseUint(f[5], 16, 8)
	inode, err4 := strconv.ParseUint(f[6], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return sockEntry{}, false
	}
	e := sockEntry{Inode: inode, Name: strings.TrimPrefix(rest, " ")}
	switch typ {
	case sockStream:
		e.Type = Stream
	case sockSeqPacket:
		e.Type = SeqPacket
	case sockDgram:
		e.Type = Datagram
	}
	switch e.Type {
	case Stream, SeqPacket:
		e.Listening = flags&soAcceptCon != 0
		e.Connected = !e.Listening && (st == ssConnected || st == ssConnecting)
	case Datagram:
		e.Listening = e.Name != "" && st == ssUnconnected
		e.Connected = st == ssConnected
	}
	return e, true
}
