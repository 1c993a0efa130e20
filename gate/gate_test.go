//go:build unix

package gate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/udsgate/udsgate/policy"
	"github.com/udsgate/udsgate/uds"
)

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// TestGateBridgesEveryBackendKind sends a message through a gate to each
// kind of backend, with the client's half-close passed on: the backends
// answer only after reading to the end.
func TestGateBridgesEveryBackendKind(t *testing.T) {
	for _, engine := range []bool{true, false} {
		for _, tc := range []struct {
			name, listen, backend string
		}{
			{"unix", "unix", "unix"},
			{"unixpacket", "unixpacket", "unixpacket"},
			{"unix to tcp", "unix", "tcp"},
			{"unixpacket to unix", "unixpacket", "unix"},
		} {
			t.Run(fmt.Sprintf("%s/engine=%v", tc.name, engine), func(t *testing.T) {
				dir := t.TempDir()
				baddr := tc.backend + ":" + filepath.Join(dir, "b.sock")
				if tc.backend == "tcp" {
					baddr = "tcp:127.0.0.1:0"
				}
				b := startBackend(t, baddr, reverse)
				if tc.backend == "tcp" {
					baddr = "tcp:" + b.ln.Addr().String()
				}
				g, log := startGate(t, Config{
					Listen:   tc.listen + ":" + filepath.Join(dir, "g.sock"),
					Backend:  baddr,
					noEngine: !engine,
				})
				got, err := dialAndTalk(t, g.Addr().String(), "hello, gate")
				if err != nil {
					t.Fatal(err)
				}
				if want := "etag ,olleh"; got != want {
					t.Errorf("answer = %q, want %q", got, want)
				}
				waitFor(t, "the closed audit line", func() bool { return len(log.lines("closed")) == 1 })
				rec := log.lines("closed")[0]
				if rec["bytes_in"] != float64(11) || rec["bytes_out"] != float64(11) {
					t.Errorf("closed line = %v, want 11 bytes each way", rec)
				}
				dec := log.lines("decided")[0]
				if dec["decision"] != "allow" || dec["uid"] != float64(os.Getuid()) || dec["pid"] != float64(os.Getpid()) {
					t.Errorf("decided line = %v, want allow for uid %d pid %d", dec, os.Getuid(), os.Getpid())
				}
			})
		}
	}
}

func TestGateBuiltinEcho(t *testing.T) {
	for _, network := range []string{"unix", "unixpacket"} {
		t.Run(network, func(t *testing.T) {
			g, _ := startGate(t, Config{Listen: network + ":" + filepath.Join(t.TempDir(), "g.sock"), Backend: "echo"})
			got, err := dialAndTalk(t, g.Addr().String(), "ping")
			if err != nil || got != "ping" {
				t.Fatalf("echo answer = %q, %v; want ping", got, err)
			}
		})
	}
}

func TestGateBuiltinWhoamiSaysWhatTheGateSaw(t *testing.T) {
	g, _ := startGate(t, Config{Listen: filepath.Join(t.TempDir(), "g.sock"), Backend: "whoami"})
	got, err := dialAndTalk(t, g.Addr().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	var w Whoami
	if err := json.Unmarshal([]byte(got), &w); err != nil {
		t.Fatalf("whoami line %q: %v", got, err)
	}
	if w.UID != os.Getuid() || w.GID != os.Getgid() || w.PID != os.Getpid() {
		t.Errorf("whoami = %+v, want uid %d gid %d pid %d", w, os.Getuid(), os.Getgid(), os.Getpid())
	}
	if w.Decision != "allow" || !strings.Contains(w.Rule, "same-user") || w.User == "" || w.Group == "" {
		t.Errorf("whoami = %+v, want allow by same-user with names", w)
	}
	if w.Groups == nil || len(w.GroupNames) != len(w.Groups) {
		t.Errorf("whoami groups = %v names %v", w.Groups, w.GroupNames)
	}
	if !strings.HasSuffix(got, "}\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("whoami answer %q is not one JSON line", got)
	}
}

// TestGateBackendDownClosesClientAndKeepsRunning: a backend that cannot be
// reached closes the client, the log says why, and the next client is
// served once the backend is up.
func TestGateBackendDownClosesClientAndKeepsRunning(t *testing.T) {
	for _, engine := range []bool{true, false} {
		t.Run(fmt.Sprintf("engine=%v", engine), func(t *testing.T) {
			dir := t.TempDir()
			bpath := filepath.Join(dir, "b.sock")
			g, log := startGate(t, Config{Listen: filepath.Join(dir, "g.sock"), Backend: "unix:" + bpath, noEngine: !engine})
			got, err := dialAndTalk(t, g.Addr().String(), "anyone?")
			if got != "" || err != nil {
				t.Errorf("answer with the backend down = %q, %v; want a clean end and nothing else", got, err)
			}
			waitFor(t, "the backend unreachable line", func() bool { return len(log.lines("backend unreachable")) == 1 })
			if e, _ := log.lines("backend unreachable")[0]["error"].(string); !strings.Contains(e, "no such file") {
				t.Errorf("log error = %q, want the reason", e)
			}
			startBackend(t, "unix:"+bpath, reverse)
			if got, err := dialAndTalk(t, g.Addr().String(), "abc"); got != "cba" || err != nil {
				t.Errorf("answer after the backend came up = %q, %v", got, err)
			}
		})
	}
}

// TestGateClientGoneMidStreamLeaksNothing: clients that vanish while the
// backend streams at them are torn down; no descriptor or goroutine stays.
func TestGateClientGoneMidStreamLeaksNothing(t *testing.T) {
	for _, engine := range []bool{true, false} {
		t.Run(fmt.Sprintf("engine=%v", engine), func(t *testing.T) {
			dir := t.TempDir()
			b := serveBackend(t, filepath.Join(dir, "b.sock"), func(c net.Conn) {
				chunk := make([]byte, 64<<10) // stream until the gate gives up on us
				for {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			})
			g, log := startGate(t, Config{Listen: filepath.Join(dir, "g.sock"), Backend: "unix:" + b.ln.Address().Path(), noEngine: !engine})
			// A first client shows that the gate is serving (on Linux the
			// engine has then taken over the listener's descriptor).
			before := -1
			const clients = 20
			for i := range clients + 1 {
				c, err := uds.Dial(context.Background(), g.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 1000)
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
				c.Close()
				if i == 0 {
					waitFor(t, "the first connection to close", func() bool { return len(log.lines("closed")) == 1 })
					before = openSockets(t)
				}
			}
			waitFor(t, "every connection to close", func() bool { return len(log.lines("closed")) == clients+1 })
			waitFor(t, "sockets to be closed", func() bool { return openSockets(t) <= before })
		})
	}
}

func TestListenRejectsBadConfig(t *testing.T) {
	p, _ := policy.New(policy.Spec{SameUser: true})
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr any
	}{
		{"no backend", Config{Listen: filepath.Join(dir, "a.sock"), Policy: p}, new(*uds.AddrError)},
		{"malformed backend", Config{Listen: filepath.Join(dir, "a.sock"), Backend: "http://x", Policy: p}, new(*uds.AddrError)},
		{"stream gate to datagram backend", Config{Listen: filepath.Join(dir, "a.sock"), Backend: "unixgram:/x", Policy: p}, new(*uds.AddrError)},
		{"datagram gate to stream backend", Config{Listen: "unixgram:" + filepath.Join(dir, "a.sock"), Backend: "unix:/x", Policy: p}, new(*uds.AddrError)},
		{"malformed listen", Config{Listen: "nope", Backend: "echo", Policy: p}, new(*uds.AddrError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Listen(context.Background(), tc.cfg)
			if err == nil {
				g.Close()
				t.Fatal("Listen succeeded")
			}
			if !errors.As(err, tc.wantErr) {
				t.Errorf("err = %v (%T)", err, err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("failed Listen left %v behind", ents)
			}
		})
	}
}

// TestGateClosesSocketFileAndConnectionsOnStop: stopping the gate removes
// its socket file and ends open connections.
func TestGateClosesSocketFileAndConnectionsOnStop(t *testing.T) {
	for _, engine := range []bool{true, false} {
		t.Run(fmt.Sprintf("engine=%v", engine), func(t *testing.T) {
			dir := t.TempDir()
			b := startBackend(t, filepath.Join(dir, "b.sock"), reverse)
			p, _ := policy.New(policy.Spec{SameUser: true})
			g, err := Listen(context.Background(), Config{Listen: filepath.Join(dir, "g.sock"), Backend: "unix:" + b.ln.Address().Path(), Policy: p, noEngine: !engine})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Serve(ctx) }()
			c, err := uds.Dial(context.Background(), g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			waitFor(t, "the backend to see the client", func() bool { return b.connections() == 1 })
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve = %v, want nil after cancel", err)
			}
			if _, err := os.Lstat(g.Addr().Path()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("socket file after stop: %v", err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("client read after stop = %v, want EOF", err)
			}
		})
	}
}

// TestGatePolicyWithRealUsers runs clients as other users and groups: the
// kernel's word on them decides, a supplementary group alone is enough, a
// deny rule beats an allow rule, and the backend never sees a denied peer.
func TestGatePolicyWithRealUsers(t *testing.T) {
	requireRoot(t)
	dir := sharedDir(t)
	b := startBackend(t, filepath.Join(dir, "b.sock"), reverse)
	pol, err := policy.New(policy.Spec{
		AllowGIDs: []int{4242},
		AllowUIDs: []int{65532},
		DenyUIDs:  []int{65531},
	})
	if err != nil {
		t.Fatal(err)
	}
	g, log := startGate(t, Config{
		Listen:       filepath.Join(dir, "g.sock"),
		ListenConfig: uds.ListenConfig{Mode: 0o666},
		Policy:       pol,
		Backend:      "unix:" + b.ln.Address().Path(),
	})
	for _, tc := range []struct {
		name    string
		cred    syscall.Credential
		allowed bool
		rule    string
	}{
		{"supplementary group only", syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4242}}, true, "4242"},
		{"primary group", syscall.Credential{Uid: 65533, Gid: 4242}, true, "4242"},
		{"allowed uid", syscall.Credential{Uid: 65532, Gid: 65532}, true, "65532"},
		{"unlisted user", syscall.Credential{Uid: 65530, Gid: 65530, Groups: []uint32{4343}}, false, "default"},
		{"deny beats allow", syscall.Credential{Uid: 65531, Gid: 65531, Groups: []uint32{4242}}, false, "65531"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns := b.connections()
			decided := len(log.lines("decided"))
			res := runClientAs(t, &tc.cred, g.Addr().String(), "secret")
			if res.err != nil {
				t.Fatalf("client: %v", res.err)
			}
			want := "terces"
			if !tc.allowed {
				want = DefaultDenyMessage
			}
			if res.out != want {
				t.Errorf("client read %q, want %q", res.out, want)
			}
			waitFor(t, "the decision line", func() bool { return len(log.lines("decided")) == decided+1 })
			rec := log.lines("decided")[decided]
			if rec["uid"] != float64(tc.cred.Uid) || rec["decision"] != map[bool]string{true: "allow", false: "deny"}[tc.allowed] ||
				!strings.Contains(fmt.Sprint(rec["rule"]), tc.rule) {
				t.Errorf("decided line = %v, want uid %d by a rule naming %s", rec, tc.cred.Uid, tc.rule)
			}
			wantConns := conns
			if tc.allowed {
				wantConns++
			}
			if got := b.connections(); got != wantConns {
				t.Errorf("backend connections = %d, want %d: a denied peer must never reach it", got, wantConns)
			}
		})
	}
}

// TestGateDenyMessage: the message is configurable, and empty closes
// silently.
func TestGateDenyMessage(t *testing.T) {
	for _, msg := range []string{"go away\n", ""} {
		t.Run(fmt.Sprintf("%q", msg), func(t *testing.T) {
			pol, _ := policy.New(policy.Spec{AllowUIDs: []int{os.Getuid() + 1}})
			g, _ := startGate(t, Config{Listen: filepath.Join(t.TempDir(), "g.sock"), Policy: pol, Backend: "echo", DenyMessage: &msg})
			got, err := dialAndTalk(t, g.Addr().String(), "let me in")
			if got != msg || err != nil {
				t.Errorf("denied client read %q, %v; want %q and a clean end", got, err, msg)
			}
		})
	}
}

// TestGateDatagrams: a unixgram gate checks each sender and relays the
// backend's replies to it.
func TestGateDatagrams(t *testing.T) {
	dir := sharedDir(t)
	bpc, err := uds.ListenPacket(context.Background(), "unixgram:"+filepath.Join(dir, "b.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { // an upper-casing datagram backend
		buf := make([]byte, 1024)
		for {
			n, from, err := bpc.ReadFrom(buf)
			if err != nil {
				return
			}
			bpc.WriteTo([]byte(strings.ToUpper(string(buf[:n]))), from)
		}
	}()
	t.Cleanup(func() { bpc.Close() })
	pol, _ := policy.New(policy.Spec{SameUser: true, AllowGIDs: []int{4242}})
	g, log := startGate(t, Config{
		Listen:       "unixgram:" + filepath.Join(dir, "g.sock"),
		ListenConfig: uds.ListenConfig{Mode: 0o666},
		Policy:       pol,
		Backend:      "unixgram:" + filepath.Join(dir, "b.sock"),
	})
	c, err := uds.Dial(context.Background(), g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"one", "two"} {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != strings.ToUpper(msg) {
			t.Fatalf("reply = %q, %v; want %q", buf[:n], err, strings.ToUpper(msg))
		}
	}
	if n := len(log.lines("decided")); n != 2 {
		t.Errorf("%d decisions, want one per datagram", n)
	}
	if os.Geteuid() != 0 {
		t.Skip("the rest needs root: it sends as other users (SysProcAttr.Credential)")
	}
	res := runClientAs(t, &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4242}}, g.Addr().String(), "member")
	if res.err != nil || res.out != "MEMBER" {
		t.Errorf("member of an allowed group: %q, %v", res.out, res.err)
	}
	res = runClientAs(t, &syscall.Credential{Uid: 65534, Gid: 65534}, g.Addr().String(), "stranger")
	if res.err != nil || res.out != DefaultDenyMessage {
		t.Errorf("stranger: %q, %v; want the deny message", res.out, res.err)
	}
}

// TestGatePassesBackendHalfClose: a backend that says its piece and
// half-closes first still gets the client's whole answer, and the client
// sees the end of the backend's stream while it is still writing.
func TestGatePassesBackendHalfClose(t *testing.T) {
	for _, engine := range []bool{true, false} {
		t.Run(fmt.Sprintf("engine=%v", engine), func(t *testing.T) {
			dir := t.TempDir()
			got := make(chan string, 1)
			b := serveBackend(t, filepath.Join(dir, "b.sock"), func(c net.Conn) {
				io.WriteString(c, "greeting")
				c.(*net.UnixConn).CloseWrite()
				data, _ := io.ReadAll(c)
				got <- string(data)
			})
			g, _ := startGate(t, Config{Listen: filepath.Join(dir, "g.sock"), Backend: "unix:" + b.ln.Address().Path(), noEngine: !engine})
			c, err := uds.Dial(context.Background(), g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			greeting, err := io.ReadAll(c)
			if string(greeting) != "greeting" || err != nil {
				t.Fatalf("client read %q, %v; want the greeting and EOF", greeting, err)
			}
			payload := strings.Repeat("x", 1<<20) // more than fits in the socket buffers
			if _, err := io.WriteString(c, payload); err != nil {
				t.Fatal(err)
			}
			c.(*net.UnixConn).CloseWrite()
			if b := <-got; b != payload {
				t.Errorf("backend got %d bytes, want %d", len(b), len(payload))
			}
		})
	}
}

// TestGateDatagramBuiltins: a unixgram gate answers each allowed datagram
// itself with the echo and whoami built-ins.
func TestGateDatagramBuiltins(t *testing.T) {
	for _, tc := range []struct{ backend, want string }{
		{"echo", "ping"},
		{"whoami", `"decision":"allow"`},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			g, _ := startGate(t, Config{Listen: "unixgram:" + filepath.Join(t.TempDir(), "g.sock"), Backend: tc.backend})
			c, err := uds.Dial(context.Background(), g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			n, err := c.Read(buf)
			if err != nil || !strings.Contains(string(buf[:n]), tc.want) {
				t.Errorf("reply %q, %v; want it to contain %s", buf[:n], err, tc.want)
			}
		})
	}
}

// TestGateMovesBulkIntact: megabytes each way through the gate come back
// byte for byte, whichever way the engine moves them (copied while small,
// spliced once bulk).
func TestGateMovesBulkIntact(t *testing.T) {
	for _, engine := range []bool{true, false} {
		t.Run(fmt.Sprintf("engine=%v", engine), func(t *testing.T) {
			dir := t.TempDir()
			b := serveBackend(t, filepath.Join(dir, "b.sock"), func(c net.Conn) {
				io.Copy(c, c) // echo; the close after it passes the end back
			})
			g, _ := startGate(t, Config{Listen: filepath.Join(dir, "g.sock"), Backend: "unix:" + b.ln.Address().Path(), noEngine: !engine})
			c, err := uds.Dial(context.Background(), g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			payload := make([]byte, 8<<20)
			rand.Read(payload)
			for i := 0; i < 1000; i++ { // small writes too, among the big ones
				payload[i*97] = byte(i)
			}
			errc := make(chan error, 1)
			go func() {
				for rest := payload; len(rest) > 0; {
					n := min(len(rest), 1+len(rest)%(300<<10))
					if _, err := c.Write(rest[:n]); err != nil {
						errc <- err
						return
					}
					rest = rest[n:]
				}
				errc <- c.(*net.UnixConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("got %d bytes back, want the %d sent, intact", len(got), len(payload))
			}
		})
	}
}
