// Package kit builds the scenery of the real-kernel tests — network
// namespaces, veth pairs, bridges — and reads the kernel's own view of a
// bond (/proc/net/bonding) independently of the plugin's adapters, so the
// tests do not check the plugin with its own eyes only.
package kit

import (
	"errors"
	"os"
	"testing"
	"time"
)

// Available reports why the real-kernel tests cannot run here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	if _, err := os.Stat("/sys/module/bonding"); err != nil {
		return errors.New("bonding driver not loaded")
	}
	return nil
}

// Require skips the test unless the kernel can run it; in the VM lane
// (BOND_REAL_KERNEL=1) it fails instead, since a skip there proves nothing.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("BOND_REAL_KERNEL") == "1" {
			t.Fatalf("real kernel required: %v", err)
		}
		t.Skipf("real kernel required: %v", err)
	}
}

// Eventually polls cond every 10 ms until it holds or timeout passes, and
// returns how long it took and whether it held.
func Eventually(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
