package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
)

// Traffic tests: datagrams cross the bond between the pod and a server on
// the far side of its links, in every mode, and the kernel's per-link
// counters show the mode's distribution (issue 4).

const echoPort = 7000

// trafficConf is a bond config over tp's links with static IPAM (the pod
// address kit.PodIP) and opts merged in; a nil value removes a key. Without
// miimon or arpInterval in opts it monitors with miimon 100.
func trafficConf(tp *kit.Topology, mode string, opts map[string]any) string {
	c := map[string]any{
		"cniVersion": "1.1.0", "name": "traffic", "type": "bond", "mode": mode,
		"linksInContainer": tp.SlavesNetns != "", "links": tp.Slaves,
		"ipam": map[string]any{"type": "static", "addresses": []map[string]string{{"address": kit.PodIP.String()}}},
	}
	_, mii := opts["miimon"]
	_, arp := opts["arpInterval"]
	if !mii && !arp {
		c["miimon"] = 100
	}
	for k, v := range opts {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// requireUnicast fails unless mac is a valid unicast Ethernet address: 6
// bytes, not multicast, not all zero.
func requireUnicast(t *testing.T, what string, mac net.HardwareAddr) {
	t.Helper()
	require.Len(t, mac, 6, "%s MAC %s", what, mac)
	assert.Zero(t, mac[0]&1, "%s MAC %s is multicast", what, mac)
	assert.NotEqual(t, net.HardwareAddr{0, 0, 0, 0, 0, 0}, mac, "%s MAC is all zero", what)
}

// requireValidMACs checks the bond's and every slave's MAC.
func requireValidMACs(t *testing.T, ns, bond string, slaves []string) {
	t.Helper()
	requireUnicast(t, bond, kit.MustLink(t, ns, bond).Attributes.Address)
	for _, s := range slaves {
		requireUnicast(t, s, kit.MustLink(t, ns, s).Attributes.Address)
	}
}

// txCounts reads each link's transmitted-packets counter.
func txCounts(t *testing.T, ns string, links []string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, l := range links {
		m[l] = kit.TxPackets(t, ns, l)
	}
	return m
}

// txSince returns how many packets each link sent since before.
func txSince(t *testing.T, ns string, before map[string]uint64) map[string]int {
	t.Helper()
	d := map[string]int{}
	for l, n := range before {
		d[l] = int(kit.TxPackets(t, ns, l) - n)
	}
	return d
}

// activeSlave is the kernel's current active slave (/proc/net/bonding).
func activeSlave(t *testing.T, ns, bond string) string {
	t.Helper()
	return kit.BondField(mustProc(t, ns, bond), "Currently Active Slave")
}

// lacpNegotiated reports whether, per /proc/net/bonding, the bond's active
// aggregator holds every one of ports, faces partnerMAC, and each port is
// in sync, collecting and distributing.
func lacpNegotiated(t *testing.T, ns, bond, partnerMAC string, ports []string) bool {
	t.Helper()
	proc, err := kit.ProcBonding(ns, bond)
	if err != nil {
		return false
	}
	agg := kit.BondField(proc, "Aggregator ID") // the active aggregator's, printed first
	if agg == "" || kit.BondField(proc, "Number of ports") != fmt.Sprint(len(ports)) ||
		kit.BondField(proc, "Partner Mac Address") != partnerMAC {
		return false
	}
	in := map[string]bool{}
	for _, s := range kit.ProcSlaves(proc) {
		var st int
		if _, err := fmt.Sscan(s.Actor["port state"], &st); err != nil {
			return false
		}
		const syncCollDist = 0x08 | 0x10 | 0x20
		if s.Fields["Aggregator ID"] == agg && st&syncCollDist == syncCollDist {
			in[s.Name] = true
		}
	}
	for _, p := range ports {
		if !in[p] {
			return false
		}
	}
	return true
}

// waitLACP waits until the pod's bond negotiated LACP with the topology's
// partner bond over every link, and returns how long it took.
func waitLACP(t *testing.T, tp *kit.Topology, bond string, timeout time.Duration) time.Duration {
	t.Helper()
	partner := kit.MustLink(t, tp.Switch, tp.Master).Attributes.Address.String()
	took, ok := kit.Eventually(timeout, func() bool { return lacpNegotiated(t, tp.Pod, bond, partner, tp.Slaves) })
	if !ok {
		proc, _ := kit.ProcBonding(tp.Pod, bond)
		t.Fatalf("LACP not negotiated with partner %s within %v:\n%s", partner, timeout, proc)
	}
	return took
}

// hostTopology builds the virtio-NIC topology and, at the very end of the
// test (after the DEL and after eth1001 came home), requires both NICs to
// be on the host exactly as they were.
func hostTopology(t *testing.T) *kit.Topology {
	t.Helper()
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	t.Cleanup(func() {
		assert.Equal(t, before1, snap(t, "", hostNIC1), "eth1000 back on the host as it was")
		assert.Equal(t, before2, snap(t, "", hostNIC2), "eth1001 back on the host as it was")
	})
	return kit.NewHostTopology(t, hostNIC1, hostNIC2)
}

func TestTrafficEveryMode(t *testing.T) {
	for _, mode := range domain.AllModes() {
		t.Run(mode.String(), func(t *testing.T) {
			e := newCNI(t) // attachments are DELeted at the end of the subtest
			cfg := kit.TopologyConfig{}
			opts := map[string]any{}
			switch mode {
			case domain.Mode8023AD:
				cfg.Partner = kit.PartnerLACP
				opts["lacpRate"] = "fast"
				opts["xmitHashPolicy"] = "layer3+4"
			case domain.ModeBalanceXOR:
				opts["xmitHashPolicy"] = "layer3+4"
			}
			tp := kit.NewTopology(t, cfg)
			echo := kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			a := e.attachment(trafficConf(tp, mode.String(), opts), tp.Pod, "bond0")
			e.mustAdd(a)
			requireValidMACs(t, tp.Pod, "bond0", tp.Slaves)
			if mode == domain.Mode8023AD {
				waitLACP(t, tp, "bond0", 20*time.Second)
			}
			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second), "the server answers through the bond")

			// 32 flows (source ports) of 8 datagrams: enough flows that a
			// hash policy over ports uses both links.
			const flows, per = 32, 8
			const n = flows * per
			before := txCounts(t, tp.Pod, tp.Slaves)
			echo.Reset()
			x := kit.SendBurst(t, tp.Pod, tp.Server(echoPort), flows, per, 100, 0, 5*time.Second)
			tx := txSince(t, tp.Pod, before)
			total, distinct := echo.Received()
			t.Logf("%s: %s; server received %d (%d distinct); sent per link %v", mode, x, total, distinct, tx)
			require.Equal(t, n, x.Echoed, "every datagram crosses the bond and comes back")
			require.Equal(t, n, distinct)
			s1, s2 := tx["s1"], tx["s2"]
			switch mode {
			case domain.ModeBalanceRR:
				assert.GreaterOrEqual(t, s1, n/4, "round robin uses s1")
				assert.GreaterOrEqual(t, s2, n/4, "round robin uses s2")
			case domain.ModeActiveBackup:
				act := activeSlave(t, tp.Pod, "bond0")
				other := map[string]string{"s1": "s2", "s2": "s1"}[act]
				require.NotEmpty(t, other, "active slave %q", act)
				assert.GreaterOrEqual(t, tx[act], n, "everything leaves through the active link %s", act)
				assert.Less(t, tx[other], n/10, "nothing leaves through the backup link %s", other)
			case domain.ModeBroadcast:
				assert.GreaterOrEqual(t, s1, n, "broadcast sends every datagram on s1")
				assert.GreaterOrEqual(t, s2, n, "broadcast sends every datagram on s2")
				assert.GreaterOrEqual(t, total, 2*n, "the server receives every datagram twice")
			case domain.ModeBalanceXOR, domain.Mode8023AD:
				assert.GreaterOrEqual(t, s1, n/16, "layer3+4 hashing puts some flows on s1")
				assert.GreaterOrEqual(t, s2, n/16, "layer3+4 hashing puts some flows on s2")
				assert.GreaterOrEqual(t, s1+s2, n)
				assert.Less(t, s1+s2, 2*n, "each datagram leaves once")
			case domain.ModeBalanceTLB, domain.ModeBalanceALB:
				assert.GreaterOrEqual(t, s1+s2, n)
			}
			require.NoError(t, e.check(a))
			require.NoError(t, e.del(a))
		})
	}
}

// TestTrafficHostNICs: the host-link variant. The bond takes the VM's
// virtio NIC eth1000 and a host veth from the host netns; eth1000's frames
// cross the QEMU hub to eth1001, a port of the switch's bridge. Virtio NICs
// report no speed/duplex, so the modes are those that need none.
func TestTrafficHostNICs(t *testing.T) {
	for _, mode := range []domain.Mode{domain.ModeBalanceRR, domain.ModeActiveBackup, domain.ModeBalanceXOR, domain.ModeBroadcast} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newCNI(t)
			before := snap(t, "", hostNIC1)
			tp := hostTopology(t)
			echo := kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			opts := map[string]any{}
			switch mode {
			case domain.ModeActiveBackup:
				opts["primary"] = hostNIC1 // traffic must take the NIC
			case domain.ModeBalanceXOR:
				opts["xmitHashPolicy"] = "layer3+4"
			}
			a := e.attachment(trafficConf(tp, mode.String(), opts), tp.Pod, "bond0")
			e.mustAdd(a)
			assert.True(t, absent(t, "", hostNIC1), "the NIC moved into the pod")
			requireValidMACs(t, tp.Pod, "bond0", tp.Slaves)
			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second), "the server answers through the bond")

			const flows, per = 32, 8
			const n = flows * per
			tx0 := txCounts(t, tp.Pod, tp.Slaves)
			echo.Reset()
			x := kit.SendBurst(t, tp.Pod, tp.Server(echoPort), flows, per, 100, 0, 5*time.Second)
			tx := txSince(t, tp.Pod, tx0)
			t.Logf("%s over %s: %s; sent per link %v", mode, hostNIC1, x, tx)
			require.Equal(t, n, x.Echoed, "every datagram crosses the bond and comes back")
			nic := tx[hostNIC1]
			switch mode {
			case domain.ModeActiveBackup:
				assert.Equal(t, hostNIC1, activeSlave(t, tp.Pod, "bond0"))
				assert.GreaterOrEqual(t, nic, n, "the primary NIC carries everything")
			case domain.ModeBroadcast:
				assert.GreaterOrEqual(t, nic, n)
			default:
				assert.GreaterOrEqual(t, nic, n/16, "the NIC carries its share")
			}
			require.NoError(t, e.del(a))
			assert.Equal(t, before, snap(t, "", hostNIC1), "eth1000 restored")
		})
	}
}
