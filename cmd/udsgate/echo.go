package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/echo"
	"github.com/udsgate/udsgate/uds"
)

func newEchoCmd() *cobra.Command {
	var sock listenFlags
	cmd := &cobra.Command{
		Use:   "echo [--mode M] [--owner U] [--group G] ADDRESS",
		Short: "Run an echo server on a socket until SIGINT or SIGTERM",
		Long: `echo listens on ADDRESS and sends back whatever each client sends: a stream
(unix:/path, tcp:host:port) byte for byte, a unixpacket connection message
for message, and each unixgram or udp datagram to the address it came from.

The socket file gets the mode, owner and group given, with no moment of wider
access. On SIGINT or SIGTERM the server stops, removes its socket file and
exits 0.`,
		Example: `  udsgate echo /tmp/echo.sock
  udsgate echo --mode 0660 --group users unixpacket:/tmp/echo.sock
  udsgate echo unixgram:/tmp/echo.sock`,
		Args: exitArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := sock.config()
			if err != nil {
				return err
			}
			return runEcho(cmd, lc, args[0])
		},
	}
	sock.register(cmd.Flags())
	return cmd
}

// runEcho serves until the command's context ends (SIGINT, SIGTERM). The
// echo servers own what they serve and close it on the way out, which
// removes the socket file.
func runEcho(cmd *cobra.Command, lc uds.ListenConfig, address string) error {
	ctx := cmd.Context()
	a, err := uds.ParseAddr(address)
	if err != nil {
		return err
	}
	if a.IsDatagram() {
		pc, err := lc.ListenPacket(ctx, address)
		if err != nil {
			return err
		}
		announce(cmd, a, pc.LocalAddr().String())
		return echo.ServePacket(ctx, pc)
	}
	ln, err := lc.Listen(ctx, address)
	if err != nil {
		return err
	}
	announce(cmd, a, ln.Addr().String())
	return echo.Serve(ctx, ln)
}

// announce says on stderr where the server listens. For tcp and udp it
// names the address bound, which tells the port when the one asked for was
// 0.
func announce(cmd *cobra.Command, a uds.Addr, bound string) {
	where := a.String()
	if !a.IsUnix() {
		where = a.Net + ":" + bound
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "udsgate: echo server listening on %s\n", where)
}
