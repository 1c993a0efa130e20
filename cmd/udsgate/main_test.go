package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as udsgate inside the scripts, so the
// scripts run the real command with its real exit codes.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"udsgate": main,
	})
}

// TestScripts runs testdata/script/*.txtar: each reads like a user's
// terminal session with udsgate.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Socket paths must stay under the kernel's 107-byte limit, and
			// $WORK is long: give the scripts a short directory of their own.
			dir, err := os.MkdirTemp("", "ugs")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(dir) })
			env.Setenv("SOCK", dir)
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			return nil
		},
		Cmds:               map[string]func(ts *testscript.TestScript, neg bool, args []string){"status": cmdStatus, "waitsock": cmdWaitSock},
		RequireUniqueNames: true,
	})
}

// cmdStatus is the script command "status CODE PROG ARGS...": it runs PROG
// like exec and checks that it exits with CODE, so that scripts can tell a
// usage error (2) from a runtime failure (1).
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: bad exit code %q", args[0])
	}
	got := 0
	var exitErr *exec.ExitError
	if err := ts.Exec(args[1], args[2:]...); errors.As(err, &exitErr) {
		got = exitErr.ExitCode()
	} else if err != nil {
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdWaitSock is the script command "waitsock PATH": it waits until PATH is
// a socket file, for scripts that start a server in the background. It
// polls a condition, not a clock, and gives up after 10 seconds.
func cmdWaitSock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitsock PATH")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Lstat(path)
		isSock := err == nil && fi.Mode().Type() == os.ModeSocket
		if isSock != neg {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitsock %s: still not in the wanted state after 10s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
