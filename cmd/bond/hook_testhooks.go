//go:build testhooks

package main

import (
	"os"
	"time"

	"github.com/bondcni/bond/domain"
)

// testHook, only in binaries built with -tags testhooks (the crash and
// fault tests), pauses the ADD before the step named by BOND_TEST_PAUSE_AT
// (a step as Step.String prints it, e.g. "enslave eth1001"), after writing
// the file BOND_TEST_PAUSE_FILE. Without BOND_TEST_RESUME_FIFO it stays
// paused so the test can SIGKILL the plugin there; with it, it blocks
// opening that FIFO until the test writes to it (after changing the node
// under the plugin's feet, say), then goes on with the step.
func testHook() func(domain.Step) {
	at, file := os.Getenv("BOND_TEST_PAUSE_AT"), os.Getenv("BOND_TEST_PAUSE_FILE")
	resume := os.Getenv("BOND_TEST_RESUME_FIFO")
	if at == "" || file == "" {
		return nil
	}
	return func(st domain.Step) {
		if st.String() != at {
			return
		}
		_ = os.WriteFile(file, []byte(at), 0o600)
		if resume != "" {
			// Opening a FIFO for reading blocks until a writer opens it.
			if _, err := os.ReadFile(resume); err == nil {
				return
			}
		}
		for {
			time.Sleep(time.Hour)
		}
	}
}
