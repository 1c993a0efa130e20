package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/udsgate/udsgate/gate"
	"github.com/udsgate/udsgate/uds"
)

func newWhoamiCmd() *cobra.Command {
	var asJSON bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "whoami ADDRESS",
		Short: "Ask a gate with the whoami backend who it thinks you are",
		Long: `whoami connects to a gate whose backend is whoami and prints what the gate
saw of you (uid, user, gid, groups, pid) and what it decided, by which rule.
If the gate denies you, it prints the gate's answer and exits 1.`,
		Args: exitArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := uds.ParseAddr(args[0])
			if err != nil {
				return err
			}
			answer, err := askWhoami(cmd, a, wait)
			if err != nil {
				return err
			}
			var w gate.Whoami
			if json.Unmarshal(answer, &w) != nil || w.Decision == "" {
				return notWhoami(cmd, a, answer)
			}
			if asJSON {
				_, err = cmd.OutOrStdout().Write(answer)
				return err
			}
			return writeWhoami(cmd.OutOrStdout(), w)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the gate's JSON line as it came")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Second, "how long to wait for the answer")
	return cmd
}

// askWhoami connects and reads the gate's whole answer: to the end of the
// stream, or one message for a datagram gate (which needs a message first).
func askWhoami(cmd *cobra.Command, a uds.Addr, wait time.Duration) ([]byte, error) {
	c, err := uds.DialAddr(cmd.Context(), a)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if a.IsDatagram() {
		if _, err := c.Write([]byte("whoami\n")); err != nil {
			return nil, err
		}
		buf := make([]byte, 64<<10)
		n, err := c.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("whoami %s: no answer: %w", a, err)
		}
		return buf[:n], nil
	}
	answer, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if err != nil && len(answer) == 0 {
		return nil, fmt.Errorf("whoami %s: %w", a, err)
	}
	return answer, nil
}

// notWhoami reports an answer that is not the whoami backend's: the gate
// denied us (its deny message goes to stdout as it came), or it is no gate.
func notWhoami(cmd *cobra.Command, a uds.Addr, answer []byte) error {
	if len(answer) == 0 {
		return fmt.Errorf("whoami %s: closed without an answer: the gate denied you silently, or its backend is not whoami", a)
	}
	cmd.OutOrStdout().Write(answer)
	if !bytes.HasSuffix(answer, []byte("\n")) {
		fmt.Fprintln(cmd.OutOrStdout())
	}
	return silentError{1}
}

// writeWhoami prints the gate's view of us for a person.
func writeWhoami(out io.Writer, w gate.Whoami) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "uid\t%d (%s)\n", w.UID, w.User)
	fmt.Fprintf(tw, "gid\t%d (%s)\n", w.GID, w.Group)
	if w.Groups == nil {
		fmt.Fprintf(tw, "groups\tunknown (the platform does not say)\n")
	} else {
		names := make([]string, len(w.Groups))
		for i, gid := range w.Groups {
			names[i] = strconv.Itoa(gid)
			if i < len(w.GroupNames) && w.GroupNames[i] != names[i] {
				names[i] += " (" + w.GroupNames[i] + ")"
			}
		}
		list := strings.Join(names, ", ")
		if len(names) == 0 {
			list = "none"
		}
		src := ""
		if w.GroupsSource != "" {
			src = "\t[" + w.GroupsSource + "]"
		}
		fmt.Fprintf(tw, "groups\t%s%s\n", list, src)
	}
	if w.PID != 0 {
		fmt.Fprintf(tw, "pid\t%d\n", w.PID)
	}
	fmt.Fprintf(tw, "decision\t%s by %s\n", w.Decision, w.Rule)
	return tw.Flush()
}
