package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

func TestSeedHostNICsActiveBackup(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	a := e.attachment(kit.SeedHostConf("0.3.1", ""), pod, "net1")

	res := e.mustAdd(a)
	require.Len(t, res.Interfaces, 1, "only the bond is listed: slaves with a sandbox would become Multus network-status entries")
	bond := kit.MustLink(t, pod, "net1")
	assert.Equal(t, "net1", res.Interfaces[0].Name)
	assert.Equal(t, pod, res.Interfaces[0].Sandbox)
	assert.Equal(t, bond.Attributes.Address.String(), res.Interfaces[0].Mac, "result carries the bond's real MAC")
	require.Len(t, res.IPs, 1)
	assert.Equal(t, 0, *res.IPs[0].Interface)
	assert.Contains(t, ipsOf(t, pod, "net1"), res.IPs[0].Address.String())

	proc, err := kit.ProcBonding(pod, "net1")
	require.NoError(t, err)
	assert.Equal(t, "fault-tolerance (active-backup) (fail_over_mac active)", kit.BondField(proc, "Bonding Mode"))
	assert.Equal(t, "100", kit.BondField(proc, "MII Polling Interval (ms)"))
	assert.ElementsMatch(t, []string{hostNIC1, hostNIC2}, kit.BondSlaves(proc))
	active := kit.BondField(proc, "Currently Active Slave")
	assert.Contains(t, []string{hostNIC1, hostNIC2}, active)
	// fail_over_mac active: slaves keep their own MACs; the bond takes the active one's.
	s1, s2 := snap(t, pod, hostNIC1), snap(t, pod, hostNIC2)
	assert.Equal(t, before1.MAC, s1.MAC)
	assert.Equal(t, before2.MAC, s2.MAC)
	activeMAC := map[string]string{hostNIC1: before1.MAC, hostNIC2: before2.MAC}[active]
	assert.Equal(t, activeMAC, bond.Attributes.Address.String())
	assert.True(t, absent(t, "", hostNIC1) && absent(t, "", hostNIC2), "NICs left the host netns")

	require.NoError(t, e.del(a))
	assert.True(t, absent(t, pod, "net1"), "bond deleted")
	assert.Equal(t, before1, snap(t, "", hostNIC1), "eth1000 restored exactly")
	assert.Equal(t, before2, snap(t, "", hostNIC2), "eth1001 restored exactly")
	require.NoError(t, e.del(a), "DEL twice succeeds")
}

func TestHostNICStateRestoredExactly(t *testing.T) {
	e := newCNI(t)
	// Give the NICs a non-default state: up, MTU 1400 and 1450.
	kit.SetMTU(t, "", hostNIC1, 1400)
	kit.SetMTU(t, "", hostNIC2, 1450)
	kit.SetUp(t, "", hostNIC1, true)
	t.Cleanup(func() {
		kit.SetUp(t, "", hostNIC1, false)
		kit.SetMTU(t, "", hostNIC1, 1500)
		kit.SetMTU(t, "", hostNIC2, 1500)
	})
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	conf := strings.Replace(kit.SeedHostConf("1.0.0", ""), `"failOverMac": 1,`, `"failOverMac": 0,`, 1)
	a := e.attachment(conf, pod, "net1")
	res := e.mustAdd(a)
	bond := kit.MustLink(t, pod, "net1")
	assert.Equal(t, uint32(1400), bond.Attributes.MTU, "without mtu the bond keeps the slaves' (smallest) MTU, not 1500")
	assert.Equal(t, 1400, res.Interfaces[0].Mtu)
	require.NoError(t, e.del(a))
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
}

func TestSeedSRIOVInPod8023ad(t *testing.T) {
	e := newCNI(t)
	pod, sw := kit.NewNetns(t, "pod"), kit.NewNetns(t, "switch")
	kit.Veth(t, pod, "net1", nil, sw, "sw1", 0)
	kit.Veth(t, pod, "net2", nil, sw, "sw2", 0)
	kit.SetUp(t, pod, "net1", true) // as the SR-IOV plugin leaves a VF
	before1, before2 := snap(t, pod, "net1"), snap(t, pod, "net2")

	a := e.attachment(kit.SeedSRIOVConf, pod, "bond0")
	res := e.mustAdd(a)
	require.Len(t, res.Interfaces, 1)
	assert.Equal(t, "bond0", res.Interfaces[0].Name)
	assert.Equal(t, []string{"192.168.0.1/24"}, ipsOf(t, pod, "bond0"))
	proc, err := kit.ProcBonding(pod, "bond0")
	require.NoError(t, err)
	assert.Equal(t, "IEEE 802.3ad Dynamic link aggregation", kit.BondField(proc, "Bonding Mode"))
	assert.ElementsMatch(t, []string{"net1", "net2"}, kit.BondSlaves(proc))
	mode, err := kit.SysfsBond(pod, "bond0", "mode")
	require.NoError(t, err)
	assert.Equal(t, "802.3ad 4", mode)

	require.NoError(t, e.del(a))
	assert.True(t, absent(t, pod, "bond0"))
	assert.Equal(t, before1, snap(t, pod, "net1"), "net1 stays in the pod, released, as it was")
	assert.Equal(t, before2, snap(t, pod, "net2"))
	require.NoError(t, e.del(a))
}

func TestRecordingIPAMReceivesWholeConfig(t *testing.T) {
	e := newCNI(t)
	dir := t.TempDir()
	// The IPAM plugin gets only the CNI variables, PATH and what the node
	// admin lists: this one needs its directory.
	t.Setenv("RECORDING_IPAM_DIR", dir)
	t.Setenv("BOND_TEST_RUNTIME_SECRET", "not for IPAM")
	nodeFile(t, `{"ipamEnv": ["RECORDING_IPAM_DIR"], "hostLinks": ["*"]}`)
	pod := kit.NewNetns(t, "pod")
	conf := kit.SeedHostConf("0.3.1", `{"type": "recording-ipam", "assign_ipv4": "true", "ipv4_pools": ["mypool"]}`)
	a := e.attachment(conf, pod, "net1")
	res := e.mustAdd(a)
	assert.Contains(t, ipsOf(t, pod, "net1"), res.IPs[0].Address.String())

	assertIPAMGot(t, dir, "ADD", a.ContainerID, conf, "kubernetes", "datastore_type", "ipam", "links", "mode", "miimon", "failOverMac", "name", "ifname")
	require.NoError(t, e.del(a))
	_, err := os.Stat(filepath.Join(dir, "DEL-"+a.ContainerID+".json"))
	require.NoError(t, err, "IPAM DEL was called")
}

// assertIPAMGot checks that the recording IPAM stub's cmd call for ctr got
// each of keys exactly as conf has it.
func assertIPAMGot(t *testing.T, dir, cmd, ctr, conf string, keys ...string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, cmd+"-"+ctr+".json"))
	require.NoError(t, err)
	var rec struct {
		Stdin map[string]any `json:"stdin"`
		Env   []string       `json:"env"`
	}
	require.NoError(t, json.Unmarshal(data, &rec))
	var names []string
	for _, kv := range rec.Env {
		names = append(names, strings.SplitN(kv, "=", 2)[0])
	}
	assert.ElementsMatch(t, []string{"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH", "PATH", "RECORDING_IPAM_DIR"}, names,
		"IPAM's environment is minimal: the runtime's other variables stay with the plugin")
	var sent map[string]any
	require.NoError(t, json.Unmarshal([]byte(conf), &sent))
	for _, key := range keys {
		assert.Equal(t, sent[key], rec.Stdin[key], "key %q reaches IPAM unchanged", key)
	}
}

// modeConf is an in-pod bond of two veths in the given mode.
func modeConf(mode, extra string) string {
	return fmt.Sprintf(`{"cniVersion":"1.1.0","name":"modes","type":"bond","mode":%q,"miimon":100,%s
"linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}],
"ipam":{"type":"static","addresses":[{"address":"10.99.0.2/24"}]}}`, mode, extra)
}

func TestEveryModeReadsBackFromKernel(t *testing.T) {
	e := newCNI(t)
	modes := map[string]string{
		"balance-rr":    "balance-rr 0",
		"active-backup": "active-backup 1",
		"balance-xor":   "balance-xor 2",
		"broadcast":     "broadcast 3",
		"802.3ad":       "802.3ad 4",
		"balance-tlb":   "balance-tlb 5",
		"balance-alb":   "balance-alb 6",
	}
	for mode, sysfs := range modes {
		t.Run(mode, func(t *testing.T) {
			pod := vethPod(t)
			a := e.attachment(modeConf(mode, ""), pod, "bond0")
			e.mustAdd(a)
			got, err := kit.SysfsBond(pod, "bond0", "mode")
			require.NoError(t, err)
			assert.Equal(t, sysfs, got)
			miimon, err := kit.SysfsBond(pod, "bond0", "miimon")
			require.NoError(t, err)
			assert.Equal(t, "100", miimon)
			slaves, err := kit.SysfsBond(pod, "bond0", "slaves")
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"s1", "s2"}, strings.Fields(slaves))
			require.NoError(t, e.del(a))
			assert.True(t, absent(t, pod, "bond0"))
		})
	}
}

func TestOptionsReadBack(t *testing.T) {
	e := newCNI(t)
	cases := []struct {
		mode, extra string
		want        map[string]string // sysfs option -> value
	}{
		{"802.3ad", `"lacpRate":"fast","xmitHashPolicy":"layer3+4","minLinks":1,"adSelect":"bandwidth",`,
			map[string]string{"lacp_rate": "fast 1", "xmit_hash_policy": "layer3+4 1", "min_links": "1", "ad_select": "bandwidth 1"}},
		{"active-backup", `"primary":"s2","primaryReselect":"better","updelay":200,"downdelay":300,"numGratArp":3,"failOverMac":"follow",`,
			map[string]string{"primary": "s2", "primary_reselect": "better 1", "updelay": "200", "downdelay": "300", "num_grat_arp": "3", "fail_over_mac": "follow 2"}},
		{"balance-rr", `"packetsPerSlave":7,"allSlavesActive":1,`,
			map[string]string{"packets_per_slave": "7", "all_slaves_active": "1"}},
		{"balance-tlb", `"tlbDynamicLb":0,"xmitHashPolicy":"layer2+3",`,
			map[string]string{"tlb_dynamic_lb": "0", "xmit_hash_policy": "layer2+3 2"}},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			pod := vethPod(t)
			a := e.attachment(modeConf(c.mode, c.extra), pod, "bond0")
			e.mustAdd(a)
			for opt, want := range c.want {
				got, err := kit.SysfsBond(pod, "bond0", opt)
				require.NoError(t, err, opt)
				assert.Equal(t, want, got, opt)
			}
			require.NoError(t, e.check(a))
			require.NoError(t, e.del(a))
		})
	}
}

func TestARPMonitorOptionsReadBack(t *testing.T) {
	e := newCNI(t)
	pod := vethPod(t)
	conf := `{"cniVersion":"1.1.0","name":"arp","type":"bond","mode":"active-backup","arpInterval":250,
"arpIpTargets":["10.99.0.1","10.99.0.9"],"arpValidate":"all","linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}]}`
	a := e.attachment(conf, pod, "bond0")
	e.mustAdd(a)
	for opt, want := range map[string]string{"arp_interval": "250", "arp_ip_target": "10.99.0.1 10.99.0.9", "arp_validate": "all 3", "miimon": "0"} {
		got, err := kit.SysfsBond(pod, "bond0", opt)
		require.NoError(t, err)
		assert.Equal(t, want, got, opt)
	}
	require.NoError(t, e.del(a))
}

func TestDelAfterPodNetnsGoneReturnsRenamedNICs(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	a := e.attachment(kit.SeedHostConf("1.1.0", ""), pod, "net1")
	e.mustAdd(a)

	// A squatter takes eth1000's name on the host, so when the pod netns
	// dies the kernel must give the NIC a devN name.
	junk := kit.NewNetns(t, "junk")
	kit.Veth(t, "", hostNIC1, nil, junk, "sq-peer", 0)
	require.NoError(t, kit.DeleteNetns(pod))
	var renamed string
	require.Eventually(t, func() bool {
		l, err := kit.LinkByIndex("", before1.Index)
		if err != nil {
			return false
		}
		renamed = l.Attributes.Name
		return true
	}, 10*time.Second, 50*time.Millisecond, "the NIC returns to the host when its netns dies")
	assert.NotEqual(t, hostNIC1, renamed, "the kernel renamed it")
	require.NoError(t, kit.DeleteNetns(junk))
	require.Eventually(t, func() bool { return absent(t, "", hostNIC1) }, 10*time.Second, 50*time.Millisecond, "squatter gone")

	require.NoError(t, e.del(a), "DEL after the netns is gone succeeds")
	assert.Equal(t, before1, snap(t, "", hostNIC1), "eth1000 found again by its index and renamed back")
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	require.NoError(t, e.del(a))
}

func TestCheckDetectsDrift(t *testing.T) {
	e := newCNI(t)
	pod := vethPod(t)
	a := e.attachment(modeConf("balance-xor", ""), pod, "bond0")
	e.mustAdd(a)
	require.NoError(t, e.check(a))
	// Drift: the bond's MTU changes behind the plugin's back.
	kit.SetMTU(t, pod, "bond0", 1280)
	err := e.check(a)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mtu")
	require.NoError(t, e.del(a))
}

func TestStatusAndGC(t *testing.T) {
	e := newCNI(t)
	require.NoError(t, e.cni.GetStatusNetworkList(t.Context(), e.list(modeConf("balance-rr", ""))))

	conf := `{"cniVersion":"1.1.0","name":"gcnet","type":"bond","mode":"balance-rr","miimon":100,
"linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}],
"ipam":{"type":"host-local","subnet":"10.98.0.0/24","dataDir":"/tmp/gc-host-local"}}`
	var atts []attachment
	for i := 0; i < 2; i++ {
		pod := vethPod(t)
		a := e.attachment(conf, pod, "bond0")
		e.mustAdd(a)
		atts = append(atts, a)
	}
	keep, stale := atts[0], atts[1]
	// A runtime that lost its cache: libcni has nothing to synthesise DELs
	// from, so only the plugin's own records can clean the stale attachment.
	fresh := libcni.NewCNIConfigWithCacheDir([]string{e.binDir}, t.TempDir(), nil)
	err := fresh.GCNetworkList(t.Context(), keep.list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: keep.ContainerID, IfName: keep.IfName}}})
	require.NoError(t, err)
	assert.False(t, absent(t, keep.Netns, "bond0"), "the listed attachment is kept")
	assert.True(t, absent(t, stale.Netns, "bond0"), "the stale attachment is cleaned")
	_, err = os.Stat(filepath.Join(e.stateDir, stale.ContainerID+"_bond0.json"))
	assert.True(t, os.IsNotExist(err), "its record is gone")
	// host-local GC freed the stale reservation and kept the live one.
	files, _ := os.ReadDir("/tmp/gc-host-local/gcnet")
	var held []string
	for _, f := range files {
		data, _ := os.ReadFile(filepath.Join("/tmp/gc-host-local/gcnet", f.Name()))
		if strings.HasPrefix(f.Name(), "10.98.") {
			held = append(held, strings.SplitN(string(data), "\n", 2)[0])
		}
	}
	assert.Equal(t, []string{keep.ContainerID}, trimAll(held))
	require.NoError(t, e.del(keep))
}

func trimAll(s []string) []string {
	for i := range s {
		s[i] = strings.TrimSpace(s[i])
	}
	return s
}

func TestCNIVersions(t *testing.T) {
	e := newCNI(t)
	for _, v := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		t.Run(v, func(t *testing.T) {
			pod := vethPod(t)
			conf := strings.Replace(modeConf("active-backup", ""), `"cniVersion":"1.1.0"`, fmt.Sprintf("%q:%q", "cniVersion", v), 1)
			a := e.attachment(conf, pod, "bond0")
			r, err := e.cni.AddNetworkList(t.Context(), a.list, a.rt())
			require.NoError(t, err)
			assert.Equal(t, v, r.Version())
			res := e.mustResult(r)
			assert.Equal(t, "10.99.0.2/24", res.IPs[0].Address.String())
			if v != "0.3.1" {
				require.NoError(t, e.check(a))
			}
			require.NoError(t, e.del(a))
		})
	}
}

func TestIPAMFailureLeavesHostAsFound(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	// host-local refuses a range outside its subnet: IPAM ADD fails after
	// the NICs moved into the pod and the bond was built.
	bad := `{"type":"host-local","ranges":[[{"subnet":"10.97.0.0/24","rangeStart":"10.96.0.10"}]],"dataDir":"/tmp/hl-bad"}`
	a := e.attachment(kit.SeedHostConf("1.1.0", bad), pod, "net1")
	_, err := e.add(a)
	require.Error(t, err)
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	assert.True(t, absent(t, pod, "net1"), "no bond left")
	assert.ElementsMatch(t, []string{"lo"}, kit.Links(t, pod))
	_, err = os.Stat(filepath.Join(e.stateDir, a.ContainerID+"_net1.json"))
	assert.True(t, os.IsNotExist(err), "no record left")
	require.NoError(t, e.del(a), "the runtime's DEL after a failed ADD succeeds")
}

func TestBogusModeIsRefusedBeforeAnyChange(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod := kit.NewNetns(t, "pod")
	conf := strings.Replace(kit.SeedHostConf("0.3.1", ""), `"active-backup"`, `"bogus"`, 1)
	out, stderr, code := e.execBond(map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bogus1", "CNI_NETNS": pod, "CNI_IFNAME": "net1"}, conf)
	assert.Equal(t, 1, code)
	ce := cniError(t, out)
	assert.Equal(t, uint(7), ce.Code)
	assert.Contains(t, ce.Msg, "mode")
	assert.Contains(t, ce.Msg, "bogus")
	assert.NotContains(t, out, "\n{", "stdout holds one JSON document; logs go to stderr: %s", stderr)
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	assert.ElementsMatch(t, []string{"lo"}, kit.Links(t, pod))
}

func TestVersionCommand(t *testing.T) {
	e := newCNI(t)
	out, _, code := e.execBond(map[string]string{"CNI_COMMAND": "VERSION"}, `{"cniVersion":"1.1.0"}`)
	require.Equal(t, 0, code)
	var v struct {
		Supported []string `json:"supportedVersions"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Contains(t, v.Supported, "0.3.1")
	assert.Contains(t, v.Supported, "1.1.0")
}

func TestDelLeavesForeignLinkAlone(t *testing.T) {
	e := newCNI(t)
	pod, sw := kit.NewNetns(t, "pod"), kit.NewNetns(t, "switch")
	// A link named like CNI_IFNAME that this plugin did not create.
	kit.Veth(t, pod, "net1", nil, sw, "p1", 0)
	a := e.attachment(kit.SeedHostConf("1.1.0", ""), pod, "net1")
	require.NoError(t, e.del(a))
	assert.False(t, absent(t, pod, "net1"), "a foreign net1 survives DEL")
	// ADD refuses to reuse the taken name.
	_, err := e.add(a)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already exists")
}
