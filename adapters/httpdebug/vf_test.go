package httpdebug_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/adapters/httpdebug/readonly"
	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
)

// A bond over two VFs of one PF: the daemon shows each VF's PF, number,
// PCI address and the PF's view of it, and flags the shared PF.
func TestVFSlavesShown(t *testing.T) {
	f := &fixture{t: t, k: memory.NewKernel(), store: memory.NewStore()}
	w, err := app.New(app.Deps{Links: f.k, Bonds: f.k, Addresses: f.k, Namespaces: f.k, Props: f.k, VFs: f.k,
		IPAM: memory.NewIPAM("10.10.20.0/24"), Store: f.store, Locks: memory.NewLocks()})
	require.NoError(t, err)
	f.writer = w
	pod := f.k.AddNetns("/var/run/netns/cni-vf")
	f.k.AddVF(pod, "net1", "ens1f0", "0000:3b:00.0", 0, mustMAC("02:00:00:00:00:01"), false)
	f.k.AddVF(pod, "net2", "ens1f0", "0000:3b:00.0", 1, mustMAC("02:00:00:00:00:02"), false)
	conf := `{"cniVersion":"1.0.0","name":"vf","type":"bond","mode":"active-backup","miimon":100,"failOverMac":1,
"linksInContainer":true,"links":["net1","net2"]}`
	id := f.add(conf, pod, "4a5b6c7d8e9f", "bond0", "telco/du-1")

	kr := readonly.NewKernel(f.k)
	reader, err := app.New(app.Deps{Links: kr, Bonds: kr, Addresses: kr, Namespaces: f.k, Props: f.k, VFs: f.k,
		IPAM: readonly.IPAM{}, Store: readonly.Store{S: f.store}, Locks: readonly.Locks{}})
	require.NoError(t, err)
	f.debugSrv = httpdebug.New(reader, httpdebug.Options{Version: "test", RequestTimeout: 10 * time.Second})
	f.handler = f.debugSrv.Handler()
	f.srv = httptest.NewServer(f.handler)
	t.Cleanup(f.srv.Close)

	in := f.inspect(id)
	require.Len(t, in.Slaves, 2)
	assert.Equal(t, &httpdebug.VFJSON{PF: "ens1f0", PFPCI: "0000:3b:00.0", Index: 0, PCI: "0000:3b:00.1",
		AdminMAC: "02:00:00:00:00:01", SpoofChk: true, SharedPFWith: "net2"}, in.Slaves[0].VF)
	assert.Equal(t, "net1", in.Slaves[1].VF.SharedPFWith)

	fams := scrape(t, f)
	bl := map[string]string{"container_id": id.ContainerID, "ifname": "bond0", "pod_namespace": "telco", "pod_name": "du-1"}
	v, ok := value(fams, "bondcni_bond_vfs_share_pf", bl)
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)
	v, ok = value(fams, "bondcni_slave_vf_info", with(bl, "slave", "net2", "pf", "ens1f0", "pf_pci", "0000:3b:00.0", "vf", "1", "pci", "0000:3b:00.2", "trust", "false", "spoofchk", "true"))
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)

	// A VF losing its link is drift, in the daemon as in CHECK.
	f.k.SetCarrier(pod, "net1", false)
	assert.Contains(t, f.inspect(id).Drift, "slave net1, SR-IOV VF 0 of PF ens1f0 (0000:3b:00.1), has no link (MII status down, carrier false): its PF or the switch port behind it is down")
}
