package contract_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/ipam"
)

// TestRealIPAMContract runs the IPAM contract against the invoke-based
// adapter and the real host-local binary from CNI_PATH (the VM lane ships
// it); elsewhere it skips when host-local is not there.
func TestRealIPAMContract(t *testing.T) {
	path := os.Getenv("CNI_PATH")
	if _, err := exec.LookPath(filepath.Join(path, "host-local")); path == "" || err != nil {
		if os.Getenv("BOND_REAL_KERNEL") == "1" {
			t.Fatalf("host-local not in CNI_PATH %q", path)
		}
		t.Skip("host-local not in CNI_PATH")
	}
	contract.RunIPAMContract(t, func(t *testing.T) contract.IPAMSetup {
		return contract.IPAMSetup{IPAM: ipam.New(nil), Plugin: "host-local", Conf: contract.HostLocalConf(t.TempDir()), Path: path}
	})
}
