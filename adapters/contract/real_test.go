//go:build linux

package contract_test

import (
	"os"
	"testing"

	"github.com/bondcni/bond/adapters/contract"
)

// TestRealKernelContracts runs every suite against the real adapters
// (nlkernel, netns) on the running kernel. Outside the VM lane it skips when
// the kernel has no bonding driver or we are not root; inside it
// (BOND_REAL_KERNEL=1) that is a failure, since a skip proves nothing.
func TestRealKernelContracts(t *testing.T) {
	if err := contract.RealKernelAvailable(); err != nil {
		if os.Getenv("BOND_REAL_KERNEL") == "1" {
			t.Fatalf("real kernel required: %v", err)
		}
		t.Skipf("real kernel not available: %v", err)
	}
	t.Run("links", func(t *testing.T) { contract.RunLinksContract(t, contract.NewRealHarness) })
	t.Run("bonds", func(t *testing.T) { contract.RunBondsContract(t, contract.NewRealHarness) })
	t.Run("addresses", func(t *testing.T) { contract.RunAddressesContract(t, contract.NewRealHarness) })
	t.Run("vlans", func(t *testing.T) { contract.RunVLANsContract(t, contract.NewRealHarness) })
	t.Run("namespaces", func(t *testing.T) { contract.RunNamespacesContract(t, contract.NewRealHarness) })
	t.Run("props", func(t *testing.T) { contract.RunLinkPropsContract(t, contract.NewRealHarness) })
}
