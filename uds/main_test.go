package uds

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// helperEnv, when set in the environment, makes the test binary a helper
// process (see runHelper) instead of running the tests: the usual Go way to
// get several real processes, other umasks and other users.
const helperEnv = "UDS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	// Every listener, server goroutine and helper reader must be gone by the
	// end: a closed listener leaves nothing behind.
	goleak.VerifyTestMain(m)
}
