package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/netcat"
	"github.com/udsgate/udsgate/uds"
)

func newDialCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "dial [--wait D] ADDRESS",
		Short: "Connect stdin and stdout to a socket, like netcat",
		Long: `dial connects to ADDRESS and joins it to stdin and stdout.

On a stream (unix:/path, tcp:host:port) it copies stdin to the socket and
the socket to stdout; at the end of stdin it half-closes the connection and
prints until the server closes.

On unixpacket, unixgram and udp each line of stdin, its newline included, is
one message, and each message received is written to stdout as it is. A
unixpacket connection is half-closed at the end of stdin, and dial prints
until the server closes. A datagram has no end, so for unixgram and udp dial
exits once no message has arrived for --wait after the end of stdin. For
unixgram, dial binds a reply address of its own: an autobound abstract name
on Linux, elsewhere a temporary socket file that it removes.

SIGINT or SIGTERM ends the session (exit 0).`,
		Example: `  printf 'a\nb\n' | udsgate dial unixpacket:/tmp/echo.sock
  echo ping | udsgate dial --wait 200ms unixgram:/tmp/echo.sock
  udsgate dial /tmp/echo.sock < request.txt`,
		Args: exitArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if wait < 0 {
				return usageErrorf("--wait %v: want a duration of zero or more", wait)
			}
			return runDial(cmd, args[0], wait)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", time.Second, "unixgram and udp: quiet time after the end of stdin before exiting")
	return cmd
}

func runDial(cmd *cobra.Command, address string, wait time.Duration) error {
	ctx := cmd.Context()
	a, err := uds.ParseAddr(address)
	if err != nil {
		return err
	}
	conn, err := uds.DialAddr(ctx, a)
	if err != nil {
		if ctx.Err() != nil {
			return nil // SIGINT or SIGTERM while connecting: the user gave up
		}
		return err // a *net.OpError names the address: "dial unix /x.sock: connect: ..."
	}
	defer conn.Close()
	stdin, stdout := cmd.InOrStdin(), cmd.OutOrStdout()
	switch a.Net {
	case uds.Unix, uds.TCP:
		err = netcat.Stream(ctx, conn, stdin, stdout)
	default:
		err = netcat.Messages(ctx, conn, stdin, stdout, wait)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // SIGINT or SIGTERM: the user ended the session
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	return nil
}
