package inspect

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// helperEnv names the job of a test binary started as a helper, typically
// under another uid (see runAs in the Linux tests); helperArgsEnv holds its
// arguments, one per line.
const (
	helperEnv     = "UDSGATE_INSPECT_HELPER"
	helperArgsEnv = "UDSGATE_INSPECT_HELPER_ARGS"
)

// runHelper does the job named in helperEnv and writes its results as JSON
// lines on stdout: "probe" and "clean" take paths, "ls" a path prefix. It
// returns the process's exit code.
func runHelper() int {
	ctx := context.Background()
	args := strings.Split(os.Getenv(helperArgsEnv), "\n")
	switch job := os.Getenv(helperEnv); job {
	case "probe", "clean":
		var rs []Result
		for _, p := range args {
			if job == "probe" {
				rs = append(rs, Probe(ctx, p))
				continue
			}
			r, err := Clean(ctx, p)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			rs = append(rs, r)
		}
		if err := WriteProbeJSON(os.Stdout, rs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "ls":
		ls, err := List(ctx, Filter{Path: args[0]})
		if err == nil {
			err = WriteListJSON(os.Stdout, ls)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown helper job %q\n", job)
		return 2
	}
	return 0
}
