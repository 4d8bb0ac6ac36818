//go:build testhooks

package main

import (
	"os"
	"time"

	"github.com/bondcni/bond/domain"
)

// testHook, only in binaries built with -tags testhooks (the crash tests),
// pauses the ADD before the step named by BOND_TEST_PAUSE_AT (a step as
// Step.String prints it, e.g. "enslave eth1001"), after writing the file
// BOND_TEST_PAUSE_FILE, so the test can SIGKILL the plugin there.
func testHook() func(domain.Step) {
	at, file := os.Getenv("BOND_TEST_PAUSE_AT"), os.Getenv("BOND_TEST_PAUSE_FILE")
	if at == "" || file == "" {
		return nil
	}
	return func(st domain.Step) {
		if st.String() != at {
			return
		}
		_ = os.WriteFile(file, []byte(at), 0o600)
		for {
			time.Sleep(time.Hour)
		}
	}
}
