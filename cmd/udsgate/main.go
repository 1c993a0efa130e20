// Command udsgate creates, guards, bridges and inspects Unix domain sockets.
//
// Every subcommand is a thin layer over a library package: it parses flags,
// calls the package, prints, and returns an error. Errors become exit codes in
// one place, exitCode: 0 success, 1 runtime failure, 2 bad usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/policy"
	"github.com/udsgate/udsgate/uds"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var silent silentError
		if !errors.As(err, &silent) {
			fmt.Fprintf(os.Stderr, "udsgate: %s\n", oneLine(err.Error()))
		}
	}
	os.Exit(exitCode(err))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "udsgate",
		Short: "Safe Unix domain sockets: create, guard by peer credentials, bridge, inspect",
		Long: `udsgate creates Unix domain sockets safely, lets in only the peers a policy
allows (by the kernel's word on their uid, gid and groups), bridges them to
local services, and shows what is going on with the sockets of a machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newEchoCmd(),
		newDialCmd(),
		newServeCmd(),
		newProbeCmd(),
		newLsCmd(),
		newWhoamiCmd(),
		newBenchCmd(),
	)
	return root
}

// usageError marks an error in the arguments themselves: exit code 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// silentError ends the command with the given exit code and no message: the
// command has already said what it had to (probe, whoami).
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitArgs is a cobra.PositionalArgs check whose failure is a usage error.
func exitArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// exitCode maps an error to the process exit code: 0 for none, 2 for an error
// in the arguments (a malformed address, a path over the kernel's limit, an
// unknown user or group, an unknown flag), 1 for anything the system said.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var (
		silent   silentError
		usage    usageError
		addrErr  *uds.AddrError
		tooLong  *uds.PathTooLongError
		noUser   user.UnknownUserError
		noGroup  user.UnknownGroupError
		noUserID user.UnknownUserIdError
		noGID    user.UnknownGroupIdError
	)
	switch {
	case errors.As(err, &silent):
		return silent.code
	case errors.As(err, &usage), errors.As(err, &addrErr), errors.As(err, &tooLong),
		errors.As(err, &noUser), errors.As(err, &noGroup),
		errors.As(err, &noUserID), errors.As(err, &noGID),
		errors.Is(err, uds.ErrUnsupported), errors.Is(err, policy.ErrInvalidRule):
		return 2
	case strings.HasPrefix(err.Error(), "unknown command"),
		strings.HasPrefix(err.Error(), "unknown flag"):
		// cobra returns these as plain errors.
		return 2
	}
	return 1
}

// oneLine keeps an error message to one line on the terminal.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
