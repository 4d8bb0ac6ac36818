//go:build linux

package contract_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/sriov"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
	"github.com/bondcni/bond/ports"
)

// TestSRIOVContracts runs the VFs suite against the real adapters on
// igbvf VFs of an emulated igb PF, in the SR-IOV lane.
func TestSRIOVContracts(t *testing.T) {
	kit.RequireSRIOV(t)
	contract.RunVFsContract(t, func(t *testing.T) contract.VFHarness {
		return &sriovHarness{Harness: contract.NewRealHarness(t)}
	})
}

type sriovHarness struct{ contract.Harness }

func (h *sriovHarness) VFs() ports.VFs { return sriov.Reader{} }

// NewVF gives PF0 one fresh VF and attaches it as the SR-IOV plugin does;
// the expected facts come from sysfs and the PF as the kit reads them.
func (h *sriovHarness) NewVF(t *testing.T, ns domain.Netns, name string, adminMAC net.HardwareAddr, trust bool) domain.VF {
	vf := kit.ResetVFs(t, kit.PF0, 1)[0]
	kit.AttachVF(t, vf, string(ns), name, kit.VFConfig{MAC: adminMAC, Trust: &trust, BindAfterMAC: true})
	dev, err := os.Readlink(filepath.Join("/sys/class/net", kit.PF0, "device"))
	if err != nil {
		t.Fatal(err)
	}
	view := vf.View(t)
	return domain.VF{PF: kit.PF0, PFPCI: filepath.Base(dev), Index: vf.Index, PCI: vf.PCI, AdminMAC: view.MAC, Trust: view.Trust, SpoofChk: view.SpoofChk}
}
