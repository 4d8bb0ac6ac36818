package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
)

// A VLAN in the same attachment (issue 14): CNI_IFNAME is an 8021q device
// on the bond, the far side is tagged with the same id, and traffic,
// failover, CHECK, DEL and rollback are proven on the real kernel. Then the
// two-network alternative with the reference vlan plugin.

const (
	testVLAN = 100
	vlanIf   = "net1"
	vlanBond = "net1-bond" // domain.VLANBondName("net1")
)

// vlanConf is trafficConf with "vlan" set, plus opts.
func vlanConf(tp *kit.Topology, mode string, opts map[string]any) string {
	o := map[string]any{"vlan": testVLAN}
	for k, v := range opts {
		o[k] = v
	}
	return trafficConf(tp, mode, o)
}

// requireVLANDevice checks the VLAN device as the kernel reports it: kind,
// id, protocol, lower device (the bond), MTU, up; and returns its MAC.
func requireVLANDevice(t *testing.T, ns string, id uint16, proto uint16, mtu uint32) net.HardwareAddr {
	t.Helper()
	l := kit.MustLink(t, ns, vlanIf)
	bond := kit.MustLink(t, ns, vlanBond)
	got, err := kit.VLANInfo(ns, vlanIf)
	require.NoError(t, err)
	assert.Equal(t, id, got.ID)
	assert.Equal(t, proto, got.TPID)
	assert.Equal(t, bond.Index, got.Lower, "the VLAN device sits on the bond (IFLA_LINK)")
	assert.Equal(t, mtu, l.Attributes.MTU)
	assert.NotZero(t, l.Flags&1, "up")
	assert.Equal(t, "bond", bond.Attributes.Info.Kind)
	return l.Attributes.Address
}

// requireNotDeliveredUntagged sends frames from the switch's master to the
// pod's VLAN device's MAC, untagged, then tagged with another id, then with
// the right one, while the switch's own VLAN device is down (so nothing else
// arrives tagged), and requires that only the last reach the VLAN device
// though the bond receives them all.
func requireNotDeliveredUntagged(t *testing.T, tp *kit.Topology, sw string, mac net.HardwareAddr, tpid uint16) {
	t.Helper()
	const n = 20
	kit.SetUp(t, tp.Switch, sw, false)
	defer kit.SetUp(t, tp.Switch, sw, true)
	for _, c := range []struct {
		what      string
		vlan      uint16
		delivered bool
	}{{"untagged", 0, false}, {"tagged with another id", testVLAN + 1, false}, {"tagged with the VLAN's id", testVLAN, true}} {
		vlanRx, bondRx := kit.RxPackets(t, tp.Pod, vlanIf), kit.RxPackets(t, tp.Pod, vlanBond)
		require.NoError(t, kit.SendFrames(tp.Switch, tp.Master, mac, c.vlan, tpid, n))
		_, ok := kit.Eventually(5*time.Second, func() bool { return kit.RxPackets(t, tp.Pod, vlanBond)-bondRx >= n })
		require.True(t, ok, "%s frames reach the bond", c.what)
		if c.delivered {
			_, ok := kit.Eventually(5*time.Second, func() bool { return kit.RxPackets(t, tp.Pod, vlanIf)-vlanRx >= n })
			assert.True(t, ok, "%s frames reach the VLAN device", c.what)
		} else {
			assert.Equal(t, vlanRx, kit.RxPackets(t, tp.Pod, vlanIf), "%s frames are not delivered to the VLAN device", c.what)
		}
	}
}

func TestVLANTaggedTraffic(t *testing.T) {
	for _, c := range []struct {
		mode     string
		protocol string
		tpid     uint16
	}{
		{"active-backup", "802.1Q", kit.TPID8021Q},
		{"802.3ad", "802.1Q", kit.TPID8021Q},
		{"active-backup", "802.1ad", kit.TPID8021AD},
	} {
		t.Run(c.mode+"/"+c.protocol, func(t *testing.T) {
			e := newCNI(t)
			cfg, opts := kit.TopologyConfig{}, map[string]any{"vlanProtocol": c.protocol, "vlanMtu": 1400}
			if c.mode == "802.3ad" {
				cfg.Partner = kit.PartnerLACP
				opts["lacpRate"] = "fast"
			}
			tp := kit.NewTopology(t, cfg)
			sw := tp.TagServer(t, testVLAN, c.tpid)
			echo := kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			a := e.attachment(vlanConf(tp, c.mode, opts), tp.Pod, vlanIf)
			res := e.mustAdd(a)

			mac := requireVLANDevice(t, tp.Pod, testVLAN, c.tpid, 1400)
			require.Len(t, res.Interfaces, 1, "the result lists the VLAN device only (Multus reports every sandbox interface as a network)")
			assert.Equal(t, vlanIf, res.Interfaces[0].Name)
			assert.Equal(t, mac.String(), res.Interfaces[0].Mac, "the VLAN device's real MAC")
			assert.Equal(t, 1400, res.Interfaces[0].Mtu)
			assert.Equal(t, tp.Pod, res.Interfaces[0].Sandbox)
			require.Len(t, res.IPs, 1)
			require.NotNil(t, res.IPs[0].Interface)
			assert.Equal(t, 0, *res.IPs[0].Interface, "the IP points at the VLAN device")
			assert.Equal(t, []string{kit.PodIP.String()}, ipsOf(t, tp.Pod, vlanIf), "IPAM's address is on the VLAN device")
			assert.Empty(t, ipsOf(t, tp.Pod, vlanBond), "and not on the bond")
			assert.ElementsMatch(t, tp.Slaves, kit.BondSlaves(mustProc(t, tp.Pod, vlanBond)))
			if c.mode == "802.3ad" {
				waitLACP(t, tp, vlanBond, 20*time.Second)
			}

			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second), "the tagged server answers through the VLAN device")
			const flows, per = 16, 8
			podTx, podRx, swRx := kit.TxPackets(t, tp.Pod, vlanIf), kit.RxPackets(t, tp.Pod, vlanIf), kit.RxPackets(t, tp.Switch, sw)
			echo.Reset()
			x := kit.SendBurst(t, tp.Pod, tp.Server(echoPort), flows, per, 100, 0, 5*time.Second)
			t.Logf("%s %s: %s", c.mode, c.protocol, x)
			require.Equal(t, flows*per, x.Echoed, "every datagram goes out tagged and comes back tagged")
			assert.GreaterOrEqual(t, kit.TxPackets(t, tp.Pod, vlanIf)-podTx, uint64(flows*per), "sent through the VLAN device")
			assert.GreaterOrEqual(t, kit.RxPackets(t, tp.Pod, vlanIf)-podRx, uint64(flows*per), "echoes received on the VLAN device")
			assert.GreaterOrEqual(t, kit.RxPackets(t, tp.Switch, sw)-swRx, uint64(flows*per), "the switch's VLAN device received them tagged")

			requireNotDeliveredUntagged(t, tp, sw, mac, c.tpid)
			require.NoError(t, e.check(a), "CHECK agrees with the kernel")

			require.NoError(t, e.del(a))
			assert.ElementsMatch(t, append([]string{"lo"}, tp.Slaves...), kit.Links(t, tp.Pod), "the VLAN device and the bond are gone, the links stay")
			require.NoError(t, e.del(a), "DEL twice")
		})
	}
}

func TestVLANFailover(t *testing.T) {
	for _, fom := range []string{"none", "active"} {
		t.Run("failOverMac "+fom, func(t *testing.T) {
			e := newCNI(t)
			tp := kit.NewTopology(t, kit.TopologyConfig{})
			tp.TagServer(t, testVLAN, kit.TPID8021Q)
			kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			a := e.attachment(vlanConf(tp, "active-backup", map[string]any{"miimon": failoverMiimon.Milliseconds(), "failOverMac": fom}), tp.Pod, vlanIf)
			e.mustAdd(a)
			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
			macOf := func(l string) string { return kit.MustLink(t, tp.Pod, l).Attributes.Address.String() }

			stream := kit.StartStream(t, tp.Pod, tp.Server(echoPort), streamInterval)
			time.Sleep(300 * time.Millisecond) // steady state
			tx0 := txCounts(t, tp.Pod, tp.Slaves)
			old, active, o := cutActive(t, tp, vlanBond, stream)
			time.Sleep(200 * time.Millisecond)
			stream.Stop()
			tx := txSince(t, tp.Pod, tx0)
			t.Logf("FIGURE vlan-failover-gap-ms=%d (active-backup, failOverMac %s, miimon %d, VLAN %d, %s -> %s, %d of %d lost)",
				o.Gap.Milliseconds(), fom, failoverMiimon.Milliseconds(), testVLAN, old, active, o.Lost, o.Sent)
			assert.LessOrEqual(t, o.Gap, maxFailoverGap, "outage within miimon plus a few datagram intervals, as without a VLAN")
			assert.Greater(t, tx[active], 20, "the tagged stream continues on %s", active)
			assert.Equal(t, macOf(vlanBond), macOf(vlanIf), "the VLAN device has the bond's MAC")
			if fom == "active" {
				assert.Equal(t, macOf(active), macOf(vlanIf), "failOverMac active: the VLAN device follows the bond to the new active link's MAC")
			}
			require.NoError(t, e.check(a), "CHECK after failover")
			require.NoError(t, e.del(a))
		})
	}
}

func TestVLANCheckDrift(t *testing.T) {
	e := newCNI(t)
	tp := kit.NewTopology(t, kit.TopologyConfig{})
	a := e.attachment(vlanConf(tp, "active-backup", nil), tp.Pod, vlanIf)
	e.mustAdd(a)
	require.NoError(t, e.check(a))

	kit.DeleteLink(t, tp.Pod, vlanIf)
	err := e.check(a)
	require.Error(t, err, "CHECK after the VLAN device was removed")
	assert.Contains(t, err.Error(), "VLAN device net1 is missing from the pod")

	// Someone puts a VLAN with another id back under the same name.
	kit.VLAN(t, tp.Pod, vlanIf, vlanBond, testVLAN+1, kit.TPID8021Q)
	err = e.check(a)
	require.Error(t, err, "CHECK with another VLAN id")
	assert.Contains(t, err.Error(), fmt.Sprintf("vlan: want %d, kernel has %d", testVLAN, testVLAN+1))
	assert.Contains(t, err.Error(), "not the VLAN device this attachment created")

	require.NoError(t, e.del(a), "DEL cleans up after drift")
	assert.ElementsMatch(t, append([]string{"lo"}, tp.Slaves...), kit.Links(t, tp.Pod))
}

// hostVLANConf is the seed's host-NIC config with a VLAN.
func hostVLANConf() string {
	return strings.Replace(kit.SeedHostConf("1.1.0", ""), `"miimon": "100",`, `"miimon": "100", "vlan": 100,`, 1)
}

func TestVLANDelAfterPodNetnsGone(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	a := e.attachment(hostVLANConf(), pod, vlanIf)
	e.mustAdd(a)
	assert.Equal(t, "vlan", kit.MustLink(t, pod, vlanIf).Attributes.Info.Kind)
	require.NoError(t, kit.DeleteNetns(pod))
	require.Eventually(t, func() bool {
		_, err1 := kit.LinkByIndex("", before1.Index)
		_, err2 := kit.LinkByIndex("", before2.Index)
		return err1 == nil && err2 == nil
	}, 10*time.Second, 50*time.Millisecond, "the NICs return to the host when the netns dies")
	require.NoError(t, e.del(a), "DEL after the netns is gone")
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	require.NoError(t, e.del(a), "and again")
	_, err := os.Stat(filepath.Join(e.stateDir, a.ContainerID+"_net1.json"))
	assert.True(t, os.IsNotExist(err), "record removed")
}

func TestVLANBondNameCollisionRefusedBeforeAnyChange(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	sw := kit.NewNetns(t, "sw")
	kit.Veth(t, pod, vlanBond, nil, sw, "squat", 0)
	out, stderr, rc := e.execBond(map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "collide", "CNI_NETNS": pod, "CNI_IFNAME": vlanIf}, hostVLANConf())
	require.Equal(t, 1, rc, "%s %s", out, stderr)
	ce := cniError(t, out)
	assert.Equal(t, uint(domain.CodeIfnameExists), ce.Code)
	assert.Contains(t, ce.Msg, `the bond under VLAN device "net1" is named "net1-bond"`)
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	assert.ElementsMatch(t, []string{"lo", vlanBond}, kit.Links(t, pod))
}

// A fault at the VLAN step: the test-hook build pauses before create-vlan,
// the test puts a link named CNI_IFNAME into the pod (another plugin racing
// for the name), and the kernel refuses the VLAN device. The ADD rolls back
// everything it did (bond, enslaves, moves, record) and leaves the other
// link alone.
func TestVLANFaultRollsBack(t *testing.T) {
	e := newCNI(t)
	hooks := e.hooksBin()
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	sw := kit.NewNetns(t, "sw")
	dir := t.TempDir()
	marker, resume := filepath.Join(dir, "paused"), filepath.Join(dir, "resume")
	require.NoError(t, syscall.Mkfifo(resume, 0o600))
	ctr := fmt.Sprintf("vfault%d", os.Getpid())
	cmd := exec.Command(hooks)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CNI_PATH=" + e.binDir, "CNI_COMMAND=ADD", "CNI_CONTAINERID=" + ctr,
		"CNI_NETNS=" + pod, "CNI_IFNAME=" + vlanIf,
		"BOND_TEST_PAUSE_AT=create-vlan", "BOND_TEST_PAUSE_FILE=" + marker, "BOND_TEST_RESUME_FIFO=" + resume}
	cmd.Stdin = strings.NewReader(hostVLANConf())
	var stdout strings.Builder
	cmd.Stdout = &stdout
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { _, err := os.Stat(marker); return err == nil }, 20*time.Second, 10*time.Millisecond, "plugin reached create-vlan")
	assert.Equal(t, "bond", kit.MustLink(t, pod, vlanBond).Attributes.Info.Kind, "the bond exists at the VLAN step")

	kit.Veth(t, pod, vlanIf, nil, sw, "racer", 0)
	require.NoError(t, os.WriteFile(resume, []byte("go"), 0o600)) // unblocks the plugin
	err := cmd.Wait()
	require.Error(t, err, "ADD fails at the VLAN step: %s", stdout.String())
	ce := cniError(t, stdout.String())
	assert.Contains(t, ce.Msg, `creating VLAN device "net1"`)

	assert.Equal(t, before1, snap(t, "", hostNIC1), "eth1000 back on the host as it was")
	assert.Equal(t, before2, snap(t, "", hostNIC2), "eth1001 back on the host as it was")
	assert.ElementsMatch(t, []string{"lo", vlanIf}, kit.Links(t, pod), "the bond is gone; the other plugin's link is left alone")
	assert.Equal(t, "veth", kit.MustLink(t, pod, vlanIf).Attributes.Info.Kind)
	_, err = os.Stat(filepath.Join(e.stateDir, ctr+"_net1.json"))
	assert.True(t, os.IsNotExist(err), "record removed by the rollback")
}

// bond-debugd, the real binary on the real kernel, shows the VLAN device
// of a tagged attachment and its drift.
func TestVLANInDebugd(t *testing.T) {
	e := newCNI(t)
	d := startDebugd(t, e)
	tp := kit.NewTopology(t, kit.TopologyConfig{})
	a := e.attachment(vlanConf(tp, "active-backup", map[string]any{"vlanProtocol": "802.1ad"}), tp.Pod, vlanIf)
	e.mustAdd(a)

	in := d.inspect(a)
	assert.Equal(t, vlanBond, in.Attachment.Bond)
	require.NotNil(t, in.Bond, in.BondError)
	assert.Equal(t, vlanBond, in.Bond.Name)
	require.NotNil(t, in.VLAN)
	assert.Equal(t, vlanIf, in.VLAN.Name)
	assert.Equal(t, testVLAN, in.VLAN.ID)
	assert.Equal(t, "802.1ad", in.VLAN.Protocol)
	assert.Equal(t, in.Bond.Index, in.VLAN.LowerIndex)
	assert.Equal(t, []string{kit.PodIP.String()}, in.VLAN.Addresses)
	assert.True(t, in.AsConfigured, "drift: %v %s", in.Drift, in.DriftError)

	kit.DeleteLink(t, tp.Pod, vlanIf)
	in = d.inspect(a)
	assert.Nil(t, in.VLAN)
	assert.Contains(t, in.Drift, "VLAN device net1 is missing from the pod")
	require.NoError(t, e.del(a))
}

// The plugin is SIGKILLed at the VLAN steps of an ADD and after them; the
// DEL that follows deletes the VLAN device and the bond (in that order),
// returns the NICs and releases the address.
func TestVLANKill9DuringAddThenDelRestores(t *testing.T) {
	e := newCNI(t)
	hooks := e.hooksBin()
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	dataDir := "/tmp/kill-vlan-host-local"
	conf := strings.Replace(kit.SeedHostConf("1.1.0", fmt.Sprintf(`{"type":"host-local","subnet":"10.10.23.0/24","dataDir":%q}`, dataDir)),
		`"miimon": "100",`, `"miimon": "100", "vlan": 100,`, 1)
	for _, step := range []string{"create-vlan", "vlan-up", "ipam-add", "configure-ip", "mark-ready"} {
		t.Run(step, func(t *testing.T) { killAtStepThenDel(t, e, hooks, conf, step, dataDir, before1, before2) })
	}
}
