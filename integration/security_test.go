package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/integration/kit"
)

// nodeFile writes a node settings file and points the plugin at it (libcni
// passes the test's environment to the plugin, as a runtime passes its own).
func nodeFile(t *testing.T, body string) string {
	t.Helper()
	p := writeNodeFile(t, body)
	t.Setenv("BOND_NODE_CONFIG", p)
	return p
}

// writeNodeFile writes a node settings file (root's, 0600) and returns its path.
func writeNodeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// The node admin's allowlist decides which host NICs pods may take; a
// network config naming another one is refused with code 7 before
// anything on the node changes.
func TestHostNICAllowlist(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	for name, tc := range map[string]struct{ node, refused string }{
		"one NIC listed": {`{"hostLinks": ["eth1000"]}`, `"eth1001"`},
		"none listed":    {`{"hostLinks": []}`, `"eth1000", "eth1001"`},
		"no hostLinks":   {`{"logLevel": "info"}`, `"eth1000", "eth1001"`},
	} {
		t.Run(name, func(t *testing.T) {
			p := nodeFile(t, tc.node)
			pod := kit.NewNetns(t, "allow")
			_, err := e.add(e.attachment(kit.SeedHostConf("1.0.0", ""), pod, "net1"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "host link "+tc.refused+" is not one the node admin lets pods take")
			assert.Contains(t, err.Error(), p)
			assert.Equal(t, before1, snap(t, "", hostNIC1), "nothing moved")
			assert.Equal(t, before2, snap(t, "", hostNIC2), "nothing moved")
			assert.Empty(t, kit.Links(t, pod)[1:], "nothing in the pod but lo")
		})
	}
	t.Run("glob allows both", func(t *testing.T) {
		nodeFile(t, `{"hostLinks": ["eth100?"]}`)
		pod := kit.NewNetns(t, "allow")
		a := e.attachment(kit.SeedHostConf("1.0.0", ""), pod, "net1")
		e.mustAdd(a)
		proc, err := kit.ProcBonding(pod, "net1")
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{hostNIC1, hostNIC2}, kit.BondSlaves(proc))
		require.NoError(t, e.del(a))
		assert.Equal(t, before1, snap(t, "", hostNIC1))
		assert.Equal(t, before2, snap(t, "", hostNIC2))
	})
}

// The kernel finds a link by any of its alternative names (udev gives real
// NICs several), so the allowlist is checked against the NIC the kernel
// returns, not the string the config wrote: an altname that matches the
// list must not let a pod take a NIC the list leaves out.
func TestHostNICAllowlistIsNotBypassedByAnAltname(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	kit.AltName(t, "", hostNIC2, "podnic1")
	p := nodeFile(t, `{"hostLinks": ["eth1000", "podnic*"]}`)
	conf := strings.Replace(kit.SeedHostConf("1.0.0", ""), `"`+hostNIC2+`"`, `"podnic1"`, 1)
	require.Contains(t, conf, `"podnic1"`)
	pod := kit.NewNetns(t, "alt")
	_, err := e.add(e.attachment(conf, pod, "net1"))
	require.Error(t, err, "eth1001 is not on the node's list, whatever name the config gives it")
	assert.Contains(t, err.Error(), `links: "podnic1" is host link "eth1001", which is not one the node admin lets pods take`)
	assert.Contains(t, err.Error(), p)
	assert.Equal(t, before1, snap(t, "", hostNIC1), "nothing moved")
	assert.Equal(t, before2, snap(t, "", hostNIC2), "nothing moved")
	assert.Empty(t, kit.Links(t, pod)[1:], "nothing in the pod but lo")

	// bond-debugd's validation answers what ADD would.
	d := startDebugd(t, e)
	r, err := http.Post(d.base+"/v1/validate?ifname=net1", "application/json", strings.NewReader(conf))
	require.NoError(t, err)
	var val httpdebug.ValidationJSON
	require.NoError(t, json.NewDecoder(r.Body).Decode(&val))
	r.Body.Close()
	assert.False(t, val.Valid)
	require.NotNil(t, val.Error)
	assert.Contains(t, val.Error.Msg, `links: "podnic1" is host link "eth1001", which is not one the node admin lets pods take`)
}

// "allowUnsafeHostLinks" in a network config takes effect only where the
// node file allows it.
func TestUnsafeOptInNeedsTheNodeAdmin(t *testing.T) {
	e := newCNI(t)
	kit.AddAddress(t, "", hostNIC1, "192.0.2.10/24")
	conf := strings.Replace(kit.SeedHostConf("1.1.0", ""), `"failOverMac": 1,`, `"failOverMac": 1, "allowUnsafeHostLinks": true,`, 1)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)

	t.Setenv("BOND_NODE_CONFIG", filepath.Join(t.TempDir(), "absent.json"))
	pod := kit.NewNetns(t, "unsafe")
	_, err := e.add(e.attachment(conf, pod, "net1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "allowUnsafeHostLinks: true is not allowed on this node")
	assert.Contains(t, err.Error(), "node admin must set")
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	assert.Contains(t, ipsOf(t, "", hostNIC1), "192.0.2.10/24", "address untouched")

	nodeFile(t, `{"allowUnsafeHostLinks": true, "hostLinks": ["*"]}`)
	a := e.attachment(conf, pod, "net1")
	e.mustAdd(a)
	require.NoError(t, e.del(a))
	assert.False(t, absent(t, "", hostNIC1), "returned to the host")
}

// A pod with NET_ADMIN renames the real NIC and plants a veth with its
// name. DEL must not move the veth to the host as if it were the NIC: it
// fails naming the link and what differs, leaves both where they are and
// keeps the record; once the pod stops lying, DEL finishes the job.
func TestDelRefusesAVethPlantedUnderTheNICsName(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	pod, other := kit.NewNetns(t, "pod"), kit.NewNetns(t, "peer")
	a := e.attachment(kit.SeedHostConf("1.0.0", ""), pod, "net1")
	e.mustAdd(a)

	// What the pod does: tear down the bond, hide the NIC, plant a veth.
	kit.DeleteLink(t, pod, "net1")
	kit.SetUp(t, pod, hostNIC1, false)
	kit.Rename(t, pod, hostNIC1, "hidden0")
	kit.Veth(t, pod, hostNIC1, mustMAC(t, before1.MAC), other, "p0", 0)
	veth := snap(t, pod, hostNIC1)
	hidden := snap(t, pod, "hidden0")

	err := e.del(a)
	require.Error(t, err, "DEL must not report success")
	assert.Contains(t, err.Error(), `"eth1000" in the pod is not the device this attachment recorded`)
	assert.Contains(t, err.Error(), "kind veth, recorded physical")
	assert.Contains(t, err.Error(), "device none, recorded virtio/virtio")
	assert.Equal(t, veth, snap(t, pod, hostNIC1), "the veth stays in the pod, untouched")
	assert.Equal(t, hidden.Index, snap(t, pod, "hidden0").Index, "the real NIC stays where it is")
	assert.True(t, absent(t, "", hostNIC1), "nothing came to the host as eth1000")
	assert.Equal(t, before2, snap(t, "", hostNIC2), "the proven NIC went back")
	_, statErr := os.Stat(filepath.Join(e.stateDir, a.ContainerID+"_net1.json"))
	assert.NoError(t, statErr, "the record is kept")

	// The pod removes its veth (the NIC keeps its hidden name): DEL finds
	// the NIC by its recorded ifindex in the pod and restores it.
	kit.DeleteLink(t, pod, hostNIC1)
	require.NoError(t, e.del(a))
	assert.Equal(t, before1, snap(t, "", hostNIC1), "eth1000 restored exactly")
}

// Two namespaces' networks may share a name. A GC of one (from a runtime
// that lost its cache, so only the plugin's records can clean) deletes its
// own stale attachment and leaves the other network's.
func TestGCLeavesAnotherNetworkOfTheSameName(t *testing.T) {
	e := newCNI(t)
	mine := `{"cniVersion":"1.1.0","name":"shared","type":"bond","mode":"balance-rr","miimon":100,
"linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}]}`
	theirs := strings.Replace(mine, `"balance-rr"`, `"balance-xor"`, 1)
	var atts []attachment
	for _, conf := range []string{mine, theirs} {
		pod := vethPod(t)
		a := e.attachment(conf, pod, "bond0")
		e.mustAdd(a)
		atts = append(atts, a)
	}
	fresh := libcni.NewCNIConfigWithCacheDir([]string{e.binDir}, t.TempDir(), nil)
	require.NoError(t, fresh.GCNetworkList(t.Context(), atts[0].list, &libcni.GCArgs{}))
	assert.True(t, absent(t, atts[0].Netns, "bond0"), "my stale attachment is cleaned")
	assert.False(t, absent(t, atts[1].Netns, "bond0"), "the other network's bond is left alone")
	_, err := os.Stat(filepath.Join(e.stateDir, atts[1].ContainerID+"_bond0.json"))
	assert.NoError(t, err, "and so is its record")
	require.NoError(t, e.del(atts[1]))
}
