//go:build unix

package gate

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the test binary as a client of another user when the tests
// re-execute it (see runClientAs), and checks for leaked goroutines.
func TestMain(m *testing.M) {
	if addr := os.Getenv(clientEnv); addr != "" {
		if err := runClient(addr, os.Getenv(clientSendEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if exePath != "" {
		os.RemoveAll(filepath.Dir(exePath))
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
