package main

import (
	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/inspect"
)

func newLsCmd() *cobra.Command {
	var (
		asJSON     bool
		f          inspect.Filter
		socketType string
	)
	cmd := &cobra.Command{
		Use:   "ls [--json] [--user U] [--path PREFIX] [--type unix|unixpacket|unixgram]",
		Short: "List the listening Unix sockets on this machine, with their owners and processes",
		Long: `ls lists the listening Unix sockets of this machine (of this network
namespace), sorted by path: stream and seqpacket sockets that accept
connections, and bound datagram sockets. For each it shows the path (or @name
for an abstract socket), the type, the socket file's owner and mode, the pid
and command of the listening process, and the number of connections open at
the listener (accepted or waiting to be).

A listener whose process you may not see (another user's, unless you are root)
is still listed, with its pid and command shown as "-".

--user keeps the sockets whose file that user owns (for abstract sockets,
which have no file: whose visible listening process runs as that user).
--path keeps the names that start with PREFIX.

ls reads /proc/net/unix: it works on Linux only.`,
		Example: `  udsgate ls
  udsgate ls --path /run/ --type unix
  udsgate ls --user postgres --json`,
		Args: exitArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if socketType != "" {
				t, err := inspect.ParseSocketType(socketType)
				if err != nil {
					return usageError{err}
				}
				f.Type = t
			}
			ls, err := inspect.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				return inspect.WriteListJSON(cmd.OutOrStdout(), ls)
			}
			return inspect.WriteList(cmd.OutOrStdout(), ls)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per socket, one per line")
	cmd.Flags().StringVar(&f.User, "user", "", "only sockets whose file `U` (name or uid) owns")
	cmd.Flags().StringVar(&f.Path, "path", "", "only sockets whose path or @name starts with `PREFIX`")
	cmd.Flags().StringVar(&socketType, "type", "", "only sockets of this `TYPE`: unix, unixpacket or unixgram")
	return cmd
}
