package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/gate"
	"github.com/udsgate/udsgate/internal/flushwriter"
	"github.com/udsgate/udsgate/policy"
)

type serveFlags struct {
	listen      string
	to          string
	sock        listenFlags
	spec        policy.Spec
	denyMessage string
	logFormat   string
	logFlush    time.Duration
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDRESS --to BACKEND] [rules...]",
		Short: "Run a gate: a socket that lets in only the peers a policy allows",
		Long: `serve listens on ADDRESS, asks the kernel who each peer is (uid, gid,
groups, pid), decides by the rules (a matching deny rule wins, then a matching
allow rule, and no match is denied), logs every decision, and bridges allowed
peers to BACKEND: unix:/path, unixpacket:/path, tcp:host:port, unixgram:/path
(for a unixgram gate), or the built-ins echo and whoami.

With no flags at all it runs a default gate: $XDG_RUNTIME_DIR/udsgate.sock
(or a private directory under the temp directory), mode 0600, same-user,
backend whoami.`,
		Example: `  udsgate serve
  udsgate serve --listen /run/app/api.sock --mode 0660 --group app \
      --allow-group app --deny-user guest --to tcp:127.0.0.1:8080`,
		Args: exitArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().NFlag() == 0 {
				if err := f.setDefaults(); err != nil {
					return err
				}
			}
			return runServe(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to listen on (unix:/path, unixpacket:/path, unixgram:/path, tcp:host:port)")
	fl.StringVar(&f.to, "to", "", "backend: unix:/path, unixpacket:/path, tcp:host:port, unixgram:/path, echo or whoami")
	f.sock.register(fl)
	fl.StringArrayVar(&f.spec.AllowUsers, "allow-user", nil, "allow this user (name or uid); repeatable")
	fl.StringArrayVar(&f.spec.AllowGroups, "allow-group", nil, "allow members of this group (name or gid), primary or supplementary; repeatable")
	fl.IntSliceVar(&f.spec.AllowUIDs, "allow-uid", nil, "allow this uid; repeatable")
	fl.IntSliceVar(&f.spec.AllowGIDs, "allow-gid", nil, "allow members of this gid; repeatable")
	fl.StringArrayVar(&f.spec.DenyUsers, "deny-user", nil, "deny this user (name or uid), even if an allow rule matches; repeatable")
	fl.StringArrayVar(&f.spec.DenyGroups, "deny-group", nil, "deny members of this group (name or gid); repeatable")
	fl.IntSliceVar(&f.spec.DenyUIDs, "deny-uid", nil, "deny this uid; repeatable")
	fl.IntSliceVar(&f.spec.DenyGIDs, "deny-gid", nil, "deny members of this gid; repeatable")
	fl.BoolVar(&f.spec.SameUser, "same-user", false, "allow peers running as the user udsgate runs as")
	fl.StringVar(&f.denyMessage, "deny-message", gate.DefaultDenyMessage, "written to a denied peer before closing; empty closes silently")
	fl.StringVar(&f.logFormat, "log-format", "text", "audit log format on stderr: text or json")
	fl.DurationVar(&f.logFlush, "log-flush", 100*time.Millisecond, "longest time an audit line waits in memory before it is written (batched writes); 0 writes each line at once. Lines still waiting are lost if udsgate is killed with SIGKILL")
	return cmd
}

// setDefaults makes the default gate: the user's own runtime directory, a
// socket only the user can use, and whoami to show what the gate sees.
func (f *serveFlags) setDefaults() error {
	dir, err := defaultSocketDir()
	if err != nil {
		return err
	}
	f.listen = "unix:" + filepath.Join(dir, "udsgate.sock")
	f.sock.mode = "0600"
	f.spec.SameUser = true
	f.to = gate.BuiltinWhoami
	return nil
}

// defaultSocketDir is $XDG_RUNTIME_DIR, or else a directory of the user's
// own under the temp directory: made with mode 0700, and refused if someone
// else owns it or others may enter it.
func defaultSocketDir() (string, error) {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return dir, nil
	}
	uid := os.Geteuid()
	dir := filepath.Join(os.TempDir(), "udsgate-"+strconv.Itoa(uid))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || !ownedBy(fi, uid) {
		return "", fmt.Errorf("%s is not a private directory of uid %d (mode %v): remove it or set XDG_RUNTIME_DIR", dir, uid, fi.Mode())
	}
	return dir, nil
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if f.listen == "" {
		return usageErrorf("serve: --listen is required (or give no flags at all for the default gate)")
	}
	if f.to == "" {
		return usageErrorf("serve: --to is required (unix:/path, unixpacket:/path, tcp:host:port, unixgram:/path, echo or whoami)")
	}
	lc, err := f.sock.config()
	if err != nil {
		return err
	}
	if !hasAllowRule(f.spec) {
		return usageErrorf("serve: no allow rule, so every peer would be denied: add --allow-user, --allow-group, --allow-uid, --allow-gid or --same-user")
	}
	pol, err := policy.New(f.spec)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return usageErrorf("serve: --log-format %q: want text or json", f.logFormat)
	}
	logw := flushwriter.New(cmd.ErrOrStderr(), f.logFlush)
	defer logw.Close()
	var handler slog.Handler = slog.NewTextHandler(logw, nil)
	if f.logFormat == "json" {
		handler = slog.NewJSONHandler(logw, nil)
	}
	logger := slog.New(handler)
	g, err := gate.Listen(cmd.Context(), gate.Config{
		Listen:       f.listen,
		ListenConfig: lc,
		Policy:       pol,
		Backend:      f.to,
		DenyMessage:  &f.denyMessage,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", g.Addr().String(), "backend", g.Backend().String(), "policy", pol.String())
	if cmd.Flags().NFlag() == 0 {
		fmt.Fprintf(logw, "udsgate: default gate on %s; try it from another terminal:\n  udsgate whoami %s\n  echo | udsgate dial %s\n",
			g.Addr(), g.Addr(), g.Addr())
	}
	return g.Serve(cmd.Context())
}

// hasAllowRule reports whether any peer could pass: without an allow rule
// the default deny refuses everyone, which is surely a mistake.
func hasAllowRule(s policy.Spec) bool {
	return s.SameUser || len(s.AllowUsers)+len(s.AllowGroups)+len(s.AllowUIDs)+len(s.AllowGIDs) > 0
}
