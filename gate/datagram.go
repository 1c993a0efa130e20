package gate

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/udsgate/udsgate/peercred"
)

// A datagram gate decides per message, with the credentials the kernel
// attaches to each one (SCM_CREDENTIALS). Allowed messages are forwarded to
// the backend from a socket of the gate's own per client address, a
// session, so that the backend's replies can be sent back to the right
// client. A session ends after sessionIdle without traffic.
const (
	maxDatagram = 256 << 10 // above the default unix datagram limit (wmem_max)
	sessionIdle = 2 * time.Minute
)

// session relays one client address's datagrams to the backend and the
// backend's replies back.
type session struct {
	adm     admission
	client  *net.UnixAddr // nil: the client has no address to reply to
	backend net.Conn
	mu      sync.Mutex
	last    time.Time
	in, out int64
}

func (g *Gate) serveDatagrams() error {
	uc, ok := g.pc.PacketConn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("gate %s: datagram gates need unixgram: a %s peer has no credentials", g.addr, g.addr.Net)
	}
	if err := peercred.EnablePassCred(uc); err != nil {
		return fmt.Errorf("gate %s: %w", g.addr, err)
	}
	sessions := make(map[string]*session)
	var mu sync.Mutex // guards sessions
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for k, s := range sessions {
			s.backend.Close()
			delete(sessions, k)
		}
	}()
	g.wg.Go(func() { g.expireSessions(&mu, sessions) })

	buf := make([]byte, maxDatagram)
	oob := make([]byte, peercred.OOBSize)
	for {
		n, oobn, _, from, err := uc.ReadMsgUnix(buf, oob)
		if err != nil {
			if g.isClosing(err) {
				return nil
			}
			return fmt.Errorf("gate %s: read: %w", g.addr, err)
		}
		cred, err := peercred.FromOOB(oob[:oobn])
		if err != nil {
			g.logFailure(0, "peer credentials", err)
			continue
		}
		a := g.decide(cred)
		msg := buf[:n]
		switch {
		case !a.decision.Allow:
			if from != nil && len(g.deny) > 0 {
				uc.WriteToUnix(g.deny, from) // best effort, as for any datagram
			}
		case g.backend.Builtin == BuiltinEcho:
			if from != nil {
				uc.WriteToUnix(msg, from)
			}
		case g.backend.Builtin == BuiltinWhoami:
			if from != nil {
				uc.WriteToUnix(whoamiLine(a), from)
			}
		default:
			mu.Lock()
			s, err := g.session(sessions, uc, a, from)
			mu.Unlock()
			if err != nil {
				g.logFailure(a.id, "backend unreachable", err)
				continue
			}
			if _, err := s.backend.Write(msg); err != nil {
				g.logFailure(a.id, "backend write", err)
				continue
			}
			s.mu.Lock()
			s.in += int64(n)
			s.last = time.Now()
			s.mu.Unlock()
		}
	}
}

// session returns the client's session, making one (and its reply
// goroutine) if there is none. The caller holds the sessions lock.
func (g *Gate) session(sessions map[string]*session, uc *net.UnixConn, a admission, from *net.UnixAddr) (*session, error) {
	key := ""
	if from != nil {
		key = from.Name
	}
	if s, ok := sessions[key]; ok {
		return s, nil
	}
	b, err := g.dialBackend()
	if err != nil {
		return nil, err
	}
	s := &session{adm: a, client: from, backend: b, last: time.Now()}
	sessions[key] = s
	g.wg.Go(func() { g.relayReplies(uc, s) })
	return s, nil
}

// relayReplies sends the backend's replies for one session back to its
// client until the session's backend socket is closed.
func (g *Gate) relayReplies(uc *net.UnixConn, s *session) {
	buf := make([]byte, maxDatagram)
	var err error
	for {
		var n int
		n, err = s.backend.Read(buf)
		if err != nil {
			break
		}
		if s.client == nil {
			continue // nowhere to send it
		}
		if _, werr := uc.WriteToUnix(buf[:n], s.client); werr != nil && g.isClosing(werr) {
			break
		}
		s.mu.Lock()
		s.out += int64(n)
		s.last = time.Now()
		s.mu.Unlock()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	s.mu.Lock()
	in, out := s.in, s.out
	s.mu.Unlock()
	g.logClosed(s.adm, in, out, err)
}

// expireSessions closes sessions idle for sessionIdle, until the gate
// closes.
func (g *Gate) expireSessions(mu *sync.Mutex, sessions map[string]*session) {
	t := time.NewTicker(sessionIdle / 4)
	defer t.Stop()
	for {
		select {
		case <-g.closed:
			return
		case now := <-t.C:
			mu.Lock()
			for k, s := range sessions {
				s.mu.Lock()
				idle := now.Sub(s.last) > sessionIdle
				s.mu.Unlock()
				if idle {
					s.backend.Close()
					delete(sessions, k)
				}
			}
			mu.Unlock()
		}
	}
}
