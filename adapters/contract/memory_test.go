package contract_test

import (
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// memHarness runs the suites against memory.Kernel. Links are virtual
// ("veth", 10000/full, carrier once up), like the real harness's veths.
type memHarness struct {
	k *memory.Kernel
	n atomic.Int64
}

var _ contract.FileMaker = (*memHarness)(nil)

func newMemHarness(*testing.T) contract.Harness { return &memHarness{k: memory.NewKernel()} }

func (h *memHarness) Links() ports.Links           { return h.k }
func (h *memHarness) Bonds() ports.Bonds           { return h.k }
func (h *memHarness) Addresses() ports.Addresses   { return h.k }
func (h *memHarness) VLANs() ports.VLANs           { return h.k }
func (h *memHarness) Namespaces() ports.Namespaces { return h.k }
func (h *memHarness) Props() ports.LinkProps       { return h.k }

func (h *memHarness) NewNetns(t *testing.T) domain.Netns {
	return h.k.AddNetns(fmt.Sprintf("/run/netns/contract-%d", h.n.Add(1)))
}

func (h *memHarness) NewLink(t *testing.T, ns domain.Netns, name string, mtu int) domain.Link {
	return h.k.AddVirtual(ns, "veth", name, mtu, nil)
}

func (h *memHarness) DestroyNetns(t *testing.T, ns domain.Netns) { h.k.DestroyNetns(ns) }

func (h *memHarness) NewFile(t *testing.T) domain.Netns {
	return h.k.AddFile(filepath.Join(t.TempDir(), "not-a-netns"))
}

func TestMemoryContracts(t *testing.T) {
	t.Run("links", func(t *testing.T) { contract.RunLinksContract(t, newMemHarness) })
	t.Run("bonds", func(t *testing.T) { contract.RunBondsContract(t, newMemHarness) })
	t.Run("addresses", func(t *testing.T) { contract.RunAddressesContract(t, newMemHarness) })
	t.Run("vlans", func(t *testing.T) { contract.RunVLANsContract(t, newMemHarness) })
	t.Run("namespaces", func(t *testing.T) { contract.RunNamespacesContract(t, newMemHarness) })
}

func TestMemoryStoreLocksPropsContracts(t *testing.T) {
	t.Run("props", func(t *testing.T) { contract.RunLinkPropsContract(t, newMemHarness) })
	t.Run("store", func(t *testing.T) {
		contract.RunStoreContract(t, func(*testing.T) ports.Store { return memory.NewStore() })
	})
	t.Run("locks", func(t *testing.T) {
		contract.RunLocksContract(t, func(*testing.T) ports.Locks { return memory.NewLocks() })
	})
}

func TestMemoryIPAMContract(t *testing.T) {
	contract.RunIPAMContract(t, func(t *testing.T) contract.IPAMSetup {
		return contract.IPAMSetup{IPAM: memory.NewIPAM("10.55.0.0/24"), Plugin: "host-local", Conf: contract.HostLocalConf(t.TempDir())}
	})
}

func (h *memHarness) VFs() ports.VFs { return h.k }

// NewVF adds a VF of a PF of its own (PCI 0000:<n>:00.0), up.
func (h *memHarness) NewVF(t *testing.T, ns domain.Netns, name string, adminMAC net.HardwareAddr, trust bool) domain.VF {
	n := h.n.Add(1)
	pf, pfPCI := fmt.Sprintf("pf%d", n), fmt.Sprintf("0000:%02x:00.0", n)
	l := h.k.AddVF(ns, name, pf, pfPCI, 0, adminMAC, trust)
	h.k.SetAdminUp(ns, name, true)
	return domain.VF{PF: pf, PFPCI: pfPCI, Index: 0, PCI: fmt.Sprintf("0000:%02x:00.1", n), AdminMAC: l.MAC, Trust: trust, SpoofChk: true}
}

func TestMemoryVFsContract(t *testing.T) {
	contract.RunVFsContract(t, func(*testing.T) contract.VFHarness { return &memHarness{k: memory.NewKernel()} })
}
