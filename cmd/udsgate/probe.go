package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/inspect"
)

func newProbeCmd() *cobra.Command {
	var asJSON, clean bool
	cmd := &cobra.Command{
		Use:   "probe [--json] [--clean] PATH...",
		Short: "Tell whether socket files are live or stale, who listens, and whether you may connect",
		Long: `probe reports for each path whether it is a live socket (and of which type:
stream, seqpacket or datagram), a stale socket that nothing listens on, not a
socket (and what it is), or missing; its mode, owner and group; whether you may
connect to it; and, where the system tells, the pid and command of the process
listening. A symlink is reported with its target, and the target is probed.

Probing changes nothing. With --clean, the paths that are stale sockets are
removed, and nothing else: never a live socket, a symlink, or a file that is
not a socket.

Exit status: 0 when every path is a live socket (a symlink to one counts),
1 when any is not, 2 for bad usage.`,
		Example: `  udsgate probe /run/docker.sock
  udsgate probe --clean /tmp/app.sock
  udsgate probe --json /run/*.sock`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("probe needs at least one PATH")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			results := make([]inspect.Result, 0, len(args))
			var cleanErrs []error
			for _, path := range args {
				if !clean {
					results = append(results, inspect.Probe(ctx, path))
					continue
				}
				r, err := inspect.Clean(ctx, path)
				if err != nil {
					cleanErrs = append(cleanErrs, err)
				}
				results = append(results, r)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			write := inspect.WriteProbe
			if asJSON {
				write = inspect.WriteProbeJSON
			}
			if err := write(cmd.OutOrStdout(), results); err != nil {
				return err
			}
			for _, err := range cleanErrs {
				fmt.Fprintf(cmd.ErrOrStderr(), "udsgate: %s\n", oneLine(err.Error()))
			}
			for _, r := range results {
				if !r.Live() {
					// The report above says why; no message to add.
					return silentError{1}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per path, one per line")
	cmd.Flags().BoolVar(&clean, "clean", false, "remove the paths that are stale sockets (only those)")
	return cmd
}
