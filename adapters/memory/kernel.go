// Package memory holds in-memory adapters for tests: a Kernel (links,
// bonds, addresses, namespaces and link properties, enforcing the Linux
// bonding driver's rules), an IPAM and a Store. All are safe for concurrent
// use, usable without fx, and can be told to fail chosen calls so that tests
// can break every step of an ADD and check that it is undone.
//
// The Kernel follows docs/kernel-notes.md (fail_over_mac, enslaving and
// releasing, namespaces, link speed); where it differs from a
// real kernel, the contract suites in adapters/contract, which run against
// both, settle who is right.
package memory

import (
	"net"
	"net/netip"
	"sync"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Kernel is an in-memory Linux networking stack: network namespaces, links,
// bonds, addresses and routes. It implements ports.Links, ports.Bonds,
// ports.Addresses, ports.Namespaces and ports.LinkProps. The host namespace
// (domain.HostNetns) always exists; every namespace has a loopback "lo" at
// ifindex 1.
type Kernel struct {
	mu        sync.Mutex
	netns     map[domain.Netns]*netns
	files     map[domain.Netns]bool // paths that exist but are no namespace
	lastIndex int
	macSeq    uint32
	pciSeq    int
	f         faults
	ops       []string
}

var (
	_ ports.Links      = (*Kernel)(nil)
	_ ports.Bonds      = (*Kernel)(nil)
	_ ports.Addresses  = (*Kernel)(nil)
	_ ports.Namespaces = (*Kernel)(nil)
	_ ports.LinkProps  = (*Kernel)(nil)
	_ ports.VFs        = (*Kernel)(nil)
)

type netns struct {
	path   domain.Netns
	links  map[int]*link
	routes []route
}

type route struct {
	link int
	r    domain.Route
}

// link is one network device.
type link struct {
	index    int
	name     string
	kind     string // IFLA_INFO_KIND: "" for NICs and lo
	physical bool   // returns to the host when its namespace dies
	loopback bool
	mtu      int
	minMTU   int
	maxMTU   int
	mac      net.HardwareAddr
	permMAC  net.HardwareAddr // factory address (physical links only)
	up       bool             // IFF_UP
	cable    bool             // the lower layer has a link: carrier when up
	master   int
	alias    string
	speed    int // Mb/s; 0 = unknown
	duplex   string
	pci      string
	vf       *domain.VF // an SR-IOV VF: its PF and the PF's view of it
	vfLocked bool       // the PF refuses the VF any other MAC
	addrs    []netip.Prefix
	counters domain.LinkCounters // traffic counters (scenery; the memory kernel moves no traffic)
	bond     *bond               // set for bonds
	slave    *slave              // set while enslaved
	vlan     *vlanDev            // set for VLAN devices
}

// bond is the bonding driver's state of one bond, as its params hold it.
type bond struct {
	mode           domain.Mode
	miimon         uint32
	upMul, downMul uint32 // delays are stored as multiples of miimon
	arpInterval    uint32
	targets        []netip.Addr
	arpValidate    domain.ArpValidate
	primary        string // stored by name
	// plain holds the option table's other numeric options, every one
	// set (newBond fills in the module defaults).
	plain domain.BondOptions

	// partner is the LACP partner's system MAC (scenery: SetLACPPartner);
	// nil when no partner answers.
	partner net.HardwareAddr

	macRandom    bool  // NET_ADDR_RANDOM: the first slave's MAC replaces it
	slaves       []int // in enslave order
	active       int   // curr_active_slave, 0 if none
	forcePrimary bool
}

// slave is a bond's per-slave state.
type slave struct {
	permHW   net.HardwareAddr // MAC at enslave time
	savedMTU int
	state    string // link state set at enslave: up, back, down
}

// NewKernel returns a kernel with only the host namespace (holding "lo").
func NewKernel() *Kernel {
	k := &Kernel{netns: map[domain.Netns]*netns{}, files: map[domain.Netns]bool{}, lastIndex: 1}
	k.addNetns(domain.HostNetns).links[1].up = true
	return k
}

func (k *Kernel) addNetns(path domain.Netns) *netns {
	n := &netns{path: path, links: map[int]*link{}}
	n.links[1] = &link{
		index: 1, name: "lo", loopback: true, mtu: 65536, minMTU: 0, maxMTU: 65536,
		mac: make(net.HardwareAddr, 6), cable: true,
	}
	k.netns[path] = n
	return n
}
