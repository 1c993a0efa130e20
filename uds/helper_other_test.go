//go:build !unix

package uds

import (
	"fmt"
	"os"
)

// runHelper: the helper processes need Unix (umask, credentials), so there
// are none here.
func runHelper(mode string) int {
	fmt.Fprintf(os.Stderr, "helper %q: not available on %s\n", mode, platform)
	return 2
}
