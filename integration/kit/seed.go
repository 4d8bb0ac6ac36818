package kit

import "fmt"

// The seed's two examples (StarlingX, "Integrate the Bond CNI Plugin"), the
// acceptance examples the tests and the demo attach. fixtures/configs holds
// them as the seed prints them; seed_test.go checks that these are the same.

// SeedHostConf is the seed's first example: two host NICs (the VM's
// eth1000 and eth1001) bonded active-backup, with ipam as its IPAM section;
// "" puts host-local (data in /tmp/host-local) in place of calico-ipam,
// which the VM does not have. kubernetes and datastore_type stay as in the
// seed.
func SeedHostConf(cniVersion, ipam string) string {
	if ipam == "" {
		ipam = `{"type": "host-local", "subnet": "10.10.20.0/24", "dataDir": "/tmp/host-local"}`
	}
	return fmt.Sprintf(`{
  "cniVersion": %q,
  "name": "bond0",
  "type": "bond",
  "ifname": "net1",
  "mode": "active-backup",
  "miimon": "100",
  "failOverMac": 1,
  "links": [{"name": "eth1000"}, {"name": "eth1001"}],
  "ipam": %s,
  "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"},
  "datastore_type": "kubernetes"
}`, cniVersion, ipam)
}

// SeedSRIOVConf is the seed's second example: two VFs already in the pod
// (net1, net2) bonded 802.3ad with static IPAM. Where no VFs exist, veth
// pairs stand in for them.
const SeedSRIOVConf = `{
  "cniVersion": "0.3.1",
  "name": "bond0",
  "ifname": "bond0",
  "type": "bond",
  "mode": "802.3ad",
  "miimon": "100",
  "linksInContainer": true,
  "links": [{"name": "net1"}, {"name": "net2"}],
  "ipam": {"type": "static", "addresses": [{"address": "192.168.0.1/24"}]}
}`
