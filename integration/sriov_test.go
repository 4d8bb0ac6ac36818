package integration

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// Bonds over real SR-IOV VFs (issue 11), in the SR-IOV lane: emulated
// Intel 82576 PFs (pf0, pf1) whose VFs are bound by igbvf, each PF on its
// own hub with a virtio NIC in the "switch" netns as the far side. The
// VFs are put into the pod the way the SR-IOV CNI plugin does
// (kit.AttachVF). Every test here is named TestSRIOV*: the main lane skips
// them, the SR-IOV lane runs only them.

// seedServer is the echo server for the seed's second example, in its
// subnet (the seed's static address is 192.168.0.1/24).
var seedServer = netip.MustParseAddrPort("192.168.0.254:7000")

// sriovPair gives each PF one fresh VF and attaches them to the pod as
// net1 (of pf0) and net2 (of pf1) with cfg.
func sriovPair(t *testing.T, tp *kit.Topology, cfg kit.VFConfig) (*kit.AttachedVF, *kit.AttachedVF) {
	t.Helper()
	a := kit.ResetVFs(t, kit.PF0, 1)[0]
	b := kit.ResetVFs(t, kit.PF1, 1)[0]
	return kit.AttachVF(t, a, tp.Pod, "net1", cfg), kit.AttachVF(t, b, tp.Pod, "net2", cfg)
}

func TestSRIOVSeedLACP(t *testing.T) {
	kit.RequireSRIOV(t)
	e := newCNI(t)
	tp := kit.NewSRIOVTopology(t, kit.PartnerLACP)
	kit.AddAddress(t, tp.Switch, tp.Master, "192.168.0.254/24")
	echo := kit.StartEcho(t, tp.Switch, seedServer)
	// The seed's SR-IOV networks: "spoofchk": "off", no MAC, trust left alone.
	n1, n2 := sriovPair(t, tp, kit.VFConfig{SpoofChk: kit.Off})
	before := map[string]linkSnap{"net1": snap(t, tp.Pod, "net1"), "net2": snap(t, tp.Pod, "net2")}

	// The seed's bond config verbatim (core_test.go).
	a := e.attachment(seedSRIOVConf, tp.Pod, "bond0")
	e.mustAdd(a)
	took := waitLACP(t, tp, "bond0", 30*time.Second)
	t.Logf("FIGURE sriov-lacp-negotiation-ms=%d (two igbvf VFs of two PFs, partner fast)", took.Milliseconds())

	// One aggregator with both VFs, facing the partner bond.
	partnerMAC := kit.MustLink(t, tp.Switch, tp.Master).Attributes.Address
	ai := adInfo(t, tp.Pod, "bond0")
	assert.Equal(t, uint16(2), ai.NumPorts)
	assert.Equal(t, partnerMAC.String(), ai.PartnerMac.String())
	proc := mustProc(t, tp.Pod, "bond0")
	assert.Equal(t, "IEEE 802.3ad Dynamic link aggregation", kit.BondField(proc, "Bonding Mode"))
	assert.ElementsMatch(t, []string{"net1", "net2"}, kit.BondSlaves(proc))
	for _, s := range kit.ProcSlaves(proc) {
		assert.Equal(t, "1000 Mbps", s.Fields["Speed"], "%s: igbvf reports its speed", s.Name)
		assert.Equal(t, "full", s.Fields["Duplex"], "%s", s.Name)
	}

	// Traffic both ways, and over both VFs.
	require.True(t, kit.WaitReachable(t, tp.Pod, seedServer, 5*time.Second))
	const flows, per = 32, 4
	txBefore := txCounts(t, tp.Pod, tp.Slaves)
	echo.Reset()
	x := kit.SendBurst(t, tp.Pod, seedServer, flows, per, 100, 0, 5*time.Second)
	tx := txSince(t, tp.Pod, txBefore)
	t.Logf("802.3ad over VFs: %s; sent per VF %v", x, tx)
	assert.Equal(t, flows*per, x.Echoed, "every datagram is echoed back")
	require.NoError(t, e.check(a))

	// DEL leaves both VFs in the pod, released, with the MACs the SR-IOV
	// step left, so its own DEL can return them.
	require.NoError(t, e.del(a))
	assert.True(t, absent(t, tp.Pod, "bond0"))
	for name, b := range before {
		after := snap(t, tp.Pod, name)
		assert.Equal(t, b.MAC, after.MAC, "%s keeps its MAC", name)
		assert.Equal(t, b.MTU, after.MTU, "%s keeps its MTU", name)
		assert.Equal(t, b.Up, after.Up, "%s is as up as before", name)
		assert.Zero(t, kit.MustLink(t, tp.Pod, name).Attributes.Master, "%s is released", name)
	}
	kit.DetachVF(t, n1)
	kit.DetachVF(t, n2)
}
