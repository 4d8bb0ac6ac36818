package integration

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// The alternative to "vlan": the bond as one network, the reference vlan
// plugin (containernetworking/plugins, built from integration/tools) with
// linkInContainer on top of it as a second, each with its own CNI_IFNAME,
// added and deleted in the order Multus uses. And why the two cannot share
// one conflist.

// refVLANConf is a config of the reference vlan plugin: VLAN id on master
// in the pod, with static IPAM giving addr.
func refVLANConf(t *testing.T, name, master string, id int, addr string) map[string]any {
	t.Helper()
	_, err := os.Stat(filepath.Join(os.Getenv("CNI_PATH"), "vlan"))
	require.NoError(t, err, "the reference vlan plugin in CNI_PATH")
	return map[string]any{
		"cniVersion": "1.1.0", "name": name, "type": "vlan", "master": master, "linkInContainer": true, "vlanId": id,
		"ipam": map[string]any{"type": "static", "addresses": []map[string]string{{"address": addr}}},
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestVLANPluginAsSecondNetwork(t *testing.T) {
	e := newCNI(t)
	tp := kit.NewTopology(t, kit.TopologyConfig{})
	tp.TagServer(t, testVLAN, kit.TPID8021Q)
	kit.StartEcho(t, tp.Switch, tp.Server(echoPort))

	// A second tagged network over the same bond: VLAN 200, its own server.
	const id2, server2, pod2 = 200, "10.98.0.1", "10.98.0.2/24"
	kit.VLAN(t, tp.Switch, "sw.200", tp.Master, id2, kit.TPID8021Q)
	kit.AddAddress(t, tp.Switch, "sw.200", server2+"/24")
	srv2 := netip.AddrPortFrom(netip.MustParseAddr(server2), echoPort)
	kit.StartEcho(t, tp.Switch, srv2)

	// Multus: the pod's networks annotation lists the bond, then the VLANs;
	// delegates get CNI_IFNAME net1, net2, net3 and the same container ID.
	bond := e.attachment(trafficConf(tp, "active-backup", map[string]any{"name": "bondnet", "ipam": nil}), tp.Pod, "net1")
	vl := attachment{ContainerID: bond.ContainerID, Netns: tp.Pod, IfName: "net2", list: e.list(mustJSON(refVLANConf(t, "vlannet", "net1", testVLAN, kit.PodIP.String())))}
	vl2 := attachment{ContainerID: bond.ContainerID, Netns: tp.Pod, IfName: "net3", list: e.list(mustJSON(refVLANConf(t, "vlannet2", "net1", id2, pod2)))}
	// Cleanups run last-registered first: net3, net2, then the bond, as Multus orders DELs.
	t.Cleanup(func() { _ = e.del(vl) })
	t.Cleanup(func() { _ = e.del(vl2) })

	resBond := e.mustAdd(bond)
	resVLAN := e.mustAdd(vl)
	e.mustAdd(vl2)
	assert.Empty(t, resBond.IPs, "the bond network is L2 only")
	require.Len(t, resVLAN.Interfaces, 1)
	assert.Equal(t, "net2", resVLAN.Interfaces[0].Name)
	assert.Equal(t, tp.Pod, resVLAN.Interfaces[0].Sandbox)
	v, err := kit.VLANInfo(tp.Pod, "net2")
	require.NoError(t, err)
	assert.EqualValues(t, testVLAN, v.ID)
	assert.Equal(t, kit.MustLink(t, tp.Pod, "net1").Index, v.Lower, "the vlan plugin's device sits on the bond")
	assert.Equal(t, []string{kit.PodIP.String()}, ipsOf(t, tp.Pod, "net2"))

	require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second), "the tagged server answers through net2")
	x := kit.SendBurst(t, tp.Pod, tp.Server(echoPort), 8, 8, 100, 0, 5*time.Second)
	require.Equal(t, 64, x.Echoed, "tagged traffic both ways over the second network")
	require.True(t, kit.WaitReachable(t, tp.Pod, srv2, 5*time.Second), "VLAN 200's server answers through net3")
	x = kit.SendBurst(t, tp.Pod, srv2, 8, 8, 100, 0, 5*time.Second)
	require.Equal(t, 64, x.Echoed, "and VLAN 200's traffic over the third")
	require.NoError(t, e.check(bond))
	require.NoError(t, e.check(vl))
	require.NoError(t, e.check(vl2))

	// Multus deletes in reverse order: the VLAN networks first, then the bond.
	require.NoError(t, e.del(vl2))
	require.NoError(t, e.del(vl))
	assert.True(t, absent(t, tp.Pod, "net2"))
	assert.True(t, absent(t, tp.Pod, "net3"))
	require.NoError(t, e.del(bond))
	assert.ElementsMatch(t, append([]string{"lo"}, tp.Slaves...), kit.Links(t, tp.Pod), "both networks are gone, the links stay")
	require.NoError(t, e.del(bond), "our DEL again")
	// A trade-off of this way: the reference vlan plugin (v1.10.0) fails a
	// repeated DEL while the pod's netns exists (its not-found check misses
	// the error its link lookup returns), so a retried DEL keeps failing
	// until the netns is gone.
	err = e.del(vl)
	require.Error(t, err, "the vlan plugin's DEL again")
	assert.Contains(t, err.Error(), "Link not found")
	t.Logf("reference vlan plugin, DEL again: %v", err)
}

// In one conflist every plugin gets the same CNI_IFNAME: the bond takes
// it, and the vlan plugin, which always names its device CNI_IFNAME,
// fails to rename its device to it. The DEL that follows (Multus DELs a
// failed delegate) runs the vlan plugin's DEL first, which deletes the
// link named CNI_IFNAME whatever it is (our bond), then ours, which still
// returns the links.
func TestVLANPluginInOneConflistFails(t *testing.T) {
	e := newCNI(t)
	tp := kit.NewTopology(t, kit.TopologyConfig{})
	var bondConf map[string]any
	require.NoError(t, json.Unmarshal([]byte(trafficConf(tp, "active-backup", map[string]any{"ipam": nil})), &bondConf))
	delete(bondConf, "cniVersion")
	delete(bondConf, "name")
	vconf := refVLANConf(t, "", "net1", testVLAN, kit.PodIP.String())
	delete(vconf, "cniVersion")
	delete(vconf, "name")
	list, err := libcni.ConfListFromBytes([]byte(mustJSON(map[string]any{
		"cniVersion": "1.1.0", "name": "bondvlan", "plugins": []any{bondConf, vconf},
	})))
	require.NoError(t, err)
	a := attachment{ContainerID: "conflist1", Netns: tp.Pod, IfName: "net1", list: list}
	t.Cleanup(func() { _ = e.del(a) })

	_, err = e.add(a)
	require.Error(t, err, "bond then vlan in one conflist cannot work")
	assert.Contains(t, err.Error(), `failed to rename vlan to "net1"`)
	require.NoError(t, e.del(a), "the DEL after the failed ADD")
	assert.ElementsMatch(t, append([]string{"lo"}, tp.Slaves...), kit.Links(t, tp.Pod), "nothing left but the links")
	_, err = os.Stat(filepath.Join(e.stateDir, "conflist1_net1.json"))
	assert.True(t, os.IsNotExist(err), "no record left")
}
