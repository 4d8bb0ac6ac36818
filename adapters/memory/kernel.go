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
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
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

// ---- setup helpers for tests (no fault injection, not in Ops) ----

// AddNetns creates an empty network namespace (with its "lo") at path and
// returns it; an existing one is returned unchanged.
func (k *Kernel) AddNetns(path string) domain.Netns {
	k.mu.Lock()
	defer k.mu.Unlock()
	ns := domain.Netns(path)
	if ns == domain.HostNetns {
		panic("memory: AddNetns: the host namespace always exists")
	}
	if _, ok := k.netns[ns]; !ok {
		delete(k.files, ns)
		k.addNetns(ns)
	}
	return ns
}

// AddFile makes path exist as something other than a network namespace
// (a regular file): Check and every link operation there then fail with
// domain.ErrNotNetns.
func (k *Kernel) AddFile(path string) domain.Netns {
	k.mu.Lock()
	defer k.mu.Unlock()
	ns := domain.Netns(path)
	if _, ok := k.netns[ns]; ok || ns == domain.HostNetns {
		panic(fmt.Sprintf("memory: AddFile: %q is a network namespace", path))
	}
	k.files[ns] = true
	return ns
}

// ListNetns lists the existing namespaces, the host ("") first.
func (k *Kernel) ListNetns() []domain.Netns {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sortedNetns()
}

func (k *Kernel) sortedNetns() []domain.Netns {
	out := make([]domain.Netns, 0, len(k.netns))
	for ns := range k.netns {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// AddPhysical adds a NIC (no IFLA_INFO_KIND, returns to the host when its
// namespace dies) named name in ns, down, with carrier once up, speed
// 10000/full, a PCI address, MTU mtu (0 = 1500, max 9216) and MAC mac (nil
// = a generated one), which is also its permanent address. It panics if ns
// does not exist or the name is taken.
func (k *Kernel) AddPhysical(ns domain.Netns, name string, mtu int, mac net.HardwareAddr) domain.Link {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.newLink(ns, "", name, mtu, mac)
	l.physical = true
	l.permMAC = slices.Clone(l.mac)
	l.speed, l.duplex = 10000, "full"
	l.maxMTU = 9216
	k.pciSeq++
	l.pci = fmt.Sprintf("0000:%02x:00.0", 0x10+k.pciSeq)
	return k.view(k.netns[ns], l)
}

// AddVirtual adds a virtual link of kind ("veth", "dummy", "bridge",
// "team", ...) that dies with its namespace, down, MTU mtu (0 = 1500) and
// MAC mac (nil = a generated one). A veth has carrier once up and reports
// 10000/full, like a veth whose peer is up; other kinds report no speed.
// Bridges and teams are masters. It panics if ns does not exist or the
// name is taken; use CreateBond for bonds.
func (k *Kernel) AddVirtual(ns domain.Netns, kind, name string, mtu int, mac net.HardwareAddr) domain.Link {
	k.mu.Lock()
	defer k.mu.Unlock()
	if kind == "" || kind == "bond" {
		panic("memory: AddVirtual: kind must be set, and bonds are made by CreateBond")
	}
	l := k.newLink(ns, kind, name, mtu, mac)
	if kind == "veth" {
		l.speed, l.duplex = 10000, "full"
	}
	return k.view(k.netns[ns], l)
}

func (k *Kernel) newLink(ns domain.Netns, kind, name string, mtu int, mac net.HardwareAddr) *link {
	n, ok := k.netns[ns]
	if !ok {
		panic(fmt.Sprintf("memory: no netns %q", ns))
	}
	if !validName(name) || n.byName(name) != nil {
		panic(fmt.Sprintf("memory: link name %q invalid or taken in %s", name, nsName(ns)))
	}
	if mtu == 0 {
		mtu = 1500
	}
	if mac == nil {
		mac = k.randomMAC()
	}
	l := &link{
		index: k.newIndex(n), name: name, kind: kind, mtu: mtu, minMTU: 68, maxMTU: 65535,
		mac: slices.Clone(mac), cable: true,
	}
	n.links[l.index] = l
	return l
}

// update applies fn to the link named name in ns, panicking if absent.
func (k *Kernel) update(ns domain.Netns, name string, fn func(l *link)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok := k.netns[ns]
	if !ok {
		panic(fmt.Sprintf("memory: no netns %q", ns))
	}
	l := n.byName(name)
	if l == nil {
		panic(fmt.Sprintf("memory: no link %q in %s", name, nsName(ns)))
	}
	fn(l)
}

// SetSpeed sets what the link's driver reports through ethtool; mbps 0
// means it reports nothing usable (like a dummy, or a NIC without link).
func (k *Kernel) SetSpeed(ns domain.Netns, name string, mbps int, duplex string) {
	k.update(ns, name, func(l *link) { l.speed, l.duplex = mbps, duplex })
}

// SetCarrier plugs (true) or unplugs the link's cable: an up link has
// carrier only when plugged.
func (k *Kernel) SetCarrier(ns domain.Netns, name string, plugged bool) {
	k.update(ns, name, func(l *link) { l.cable = plugged })
}

// SetCounters sets a link's traffic counters, which Bond reports for slaves.
func (k *Kernel) SetCounters(ns domain.Netns, name string, c domain.LinkCounters) {
	k.update(ns, name, func(l *link) { l.counters = c })
}

// SetLACPPartner makes an 802.3ad bond's links face an LACP partner with
// system MAC mac (nil: none), as a switch port-channel would: its up slaves
// report in-sync, collecting and distributing port states on both sides.
func (k *Kernel) SetLACPPartner(ns domain.Netns, bondName string, mac net.HardwareAddr) {
	k.update(ns, bondName, func(l *link) {
		if l.bond == nil {
			panic(fmt.Sprintf("memory: %s is not a bond", bondName))
		}
		l.bond.partner = slices.Clone(mac)
	})
}

// SetMaxMTU sets the largest MTU the link's driver accepts.
func (k *Kernel) SetMaxMTU(ns domain.Netns, name string, mtu int) {
	k.update(ns, name, func(l *link) { l.maxMTU = mtu })
}

// SetAdminUp sets a link's admin state directly (scenery: a host NIC that
// is up before the test starts), without counting as an operation.
func (k *Kernel) SetAdminUp(ns domain.Netns, name string, up bool) {
	k.update(ns, name, func(l *link) { l.up = up })
}

// AddAddress puts an address on a link directly (scenery).
func (k *Kernel) AddAddress(ns domain.Netns, name string, p netip.Prefix) {
	k.update(ns, name, func(l *link) {
		if !slices.Contains(l.addrs, p) {
			l.addrs = append(l.addrs, p)
		}
	})
}

// AddRoute adds a route through a link directly (scenery, such as the
// default route of a pod's eth0), without the checks Configure makes.
func (k *Kernel) AddRoute(ns domain.Netns, name string, r domain.Route) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.netns[ns]
	if n == nil || n.byName(name) == nil {
		panic(fmt.Sprintf("memory: AddRoute: no link %q in %s", name, nsName(ns)))
	}
	n.routes = append(n.routes, route{link: n.byName(name).index, r: r})
}

// Peek returns the link named name in ns without counting a call; ok is
// false if the namespace or link does not exist.
func (k *Kernel) Peek(ns domain.Netns, name string) (l domain.Link, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.netns[ns]
	if n == nil {
		return domain.Link{}, false
	}
	ll := n.byName(name)
	if ll == nil {
		return domain.Link{}, false
	}
	return k.view(n, ll), true
}

// DestroyNetns deletes a namespace as the kernel does when a pod's last
// process exits and its bind mount is gone: physical links are released
// from their bonds, set down and returned to the host namespace, keeping
// their name if it is free there, else named "dev<ifindex>" (or the first
// free "devN"); every virtual link (veth, bond, ...) is deleted. Unknown
// namespaces are ignored; the host namespace cannot be destroyed.
func (k *Kernel) DestroyNetns(ns domain.Netns) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ns == domain.HostNetns {
		panic("memory: DestroyNetns: the host namespace cannot be destroyed")
	}
	n, ok := k.netns[ns]
	if !ok {
		return
	}
	host := k.netns[domain.HostNetns]
	for _, l := range n.sorted() {
		if !l.physical {
			continue
		}
		k.detach(n, l)
		delete(n.links, l.index)
		name := l.name
		if host.byName(name) != nil {
			name = fmt.Sprintf("dev%d", l.index)
			for i := 0; host.byName(name) != nil; i++ {
				name = fmt.Sprintf("dev%d", i)
			}
		}
		if _, taken := host.links[l.index]; taken {
			l.index = k.newIndex(host)
		}
		l.name = name
		host.links[l.index] = l
	}
	for _, l := range n.sorted() {
		if n.links[l.index] == l {
			k.removeLink(n, l)
		}
	}
	delete(k.netns, ns)
	k.ops = append(k.ops, fmt.Sprintf("DestroyNetns(%s)", ns))
}

// ---- fault injection and the operation log ----

// FailAfter makes the mutating call that follows the next n of them fail
// with an error wrapping err (n = 0: the next one). Mutating calls are Move,
// Restore, SetUp, Delete, CreateBond, Enslave, Release and Configure. The
// failing call changes nothing. One-shot; several may be armed.
func (k *Kernel) FailAfter(n int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f.failAfter(n, err)
}

// FailOn makes the nth next call (1 = the next one) of the named
// operation fail with an error wrapping err, changing nothing. op is a
// method name: "Move", "Restore", "SetUp", "Delete", "CreateBond",
// "Enslave", "Release", "Configure", or a read such as "Link",
// "LinkByIndex", "LinkByMAC", "Bond", "Addresses", "Check", "Speed".
// One-shot; several may be armed. "Enslave/master" fails
// an Enslave half-way, after its down message, as a kernel refusing the
// enslave itself does.
func (k *Kernel) FailOn(op string, nth int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f.failOn(op, nth, err)
}

// ClearFaults disarms every pending failure.
func (k *Kernel) ClearFaults() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f.clear()
}

// Injected lists the operations that failed by injection so far.
func (k *Kernel) Injected() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.firedOps()
}

// PendingFaults is the number of armed failures that have not fired.
func (k *Kernel) PendingFaults() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.pending()
}

// Ops returns the log of mutating calls with their outcome, for debugging
// a failing test. Its wording is not part of the API.
func (k *Kernel) Ops() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.ops)
}

// begin starts a call: the context, then an armed failure. Lock held.
func (k *Kernel) begin(ctx context.Context, op string, mutating bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.f.hit(op, mutating)
}

func (k *Kernel) logOp(op string, err error, format string, args ...any) {
	k.ops = append(k.ops, opLog(op, err, format, args...))
}

// ---- model internals (lock held) ----

func nsName(ns domain.Netns) string {
	if ns == domain.HostNetns {
		return "host netns"
	}
	return "netns " + string(ns)
}

func (k *Kernel) netnsOf(ns domain.Netns) (*netns, error) {
	if n, ok := k.netns[ns]; ok {
		return n, nil
	}
	if k.files[ns] {
		return nil, fmt.Errorf("netns %s: %w (a regular file, not nsfs)", ns, domain.ErrNotNetns)
	}
	return nil, fmt.Errorf("netns %s: %w: no such file or directory", ns, domain.ErrNotFound)
}

// lookup finds a link by index in ns.
func (k *Kernel) lookup(op string, ns domain.Netns, index int) (*netns, *link, error) {
	n, err := k.netnsOf(ns)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	l, ok := n.links[index]
	if !ok {
		return n, nil, refuse(op, "ENODEV", "no device with ifindex %d in %s", index, nsName(ns))
	}
	return n, l, nil
}

func (n *netns) byName(name string) *link {
	for _, l := range n.links {
		if l.name == name {
			return l
		}
	}
	return nil
}

// sorted returns the links in ifindex order.
func (n *netns) sorted() []*link {
	out := make([]*link, 0, len(n.links))
	for _, l := range n.links {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *link) int { return a.index - b.index })
	return out
}

// newIndex allocates an ifindex free in n (and never used before).
func (k *Kernel) newIndex(n *netns) int {
	for {
		k.lastIndex++
		if _, taken := n.links[k.lastIndex]; !taken {
			return k.lastIndex
		}
	}
}

// randomMAC returns a fresh locally administered unicast MAC; the sequence
// is deterministic so that snapshots of two runs compare equal.
func (k *Kernel) randomMAC() net.HardwareAddr {
	k.macSeq++
	s := k.macSeq
	return net.HardwareAddr{0x02, 0x6d, 0x65, byte(s >> 16), byte(s >> 8), byte(s)}
}

// masterKinds are the kinds that take ports (adapters/nlkernel's list).
var masterKinds = []string{"bond", "bridge", "team", "openvswitch", "vrf"}

func (l *link) isMaster() bool { return slices.Contains(masterKinds, l.kind) }

// netnsLocal: the kernel refuses to move these (NETIF_F_NETNS_LOCAL).
func (l *link) netnsLocal() bool { return l.loopback || l.isMaster() }

// validName follows the kernel's dev_valid_name (and refuses '%' patterns).
func validName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/:% \t\n\v\f\r")
}

// checkMAC refuses what eth_mac_addr / rtnl refuse.
func checkMAC(op string, mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return refuse(op, "EINVAL", "invalid address length %d", len(mac))
	}
	if mac[0]&1 == 1 || bytes.Equal(mac, make([]byte, 6)) {
		return refuse(op, "EADDRNOTAVAIL", "cannot assign requested address %s", mac)
	}
	return nil
}

// view is the domain's view of a link, as adapters/nlkernel builds it.
func (k *Kernel) view(n *netns, l *link) domain.Link {
	v := domain.Link{
		Index: l.index, Name: l.name, Kind: l.kind, MTU: l.mtu, MinMTU: l.minMTU, MaxMTU: l.maxMTU,
		MAC: slices.Clone(l.mac), Up: l.up, MasterIndex: l.master,
		Alias: l.alias, IsMaster: l.isMaster(), Loopback: l.loopback,
	}
	if l.permMAC != nil {
		v.PermMAC = slices.Clone(l.permMAC)
	}
	if l.pci != "" {
		v.Device = "pci/" + l.pci
	}
	if l.bond != nil {
		v.Carrier = k.bondCarrier(n, l)
	} else if l.vlan != nil {
		v.Carrier = k.vlanCarrier(n, l)
	} else {
		v.Carrier = l.up && l.cable
	}
	return v
}

func (l *link) hasSpeed() bool { return l.speed > 0 && (l.duplex == "full" || l.duplex == "half") }

// linkState is the bond's view of a slave's link (its MII status).
func linkState(b *bond, s *link, bondUp bool) string {
	if b.mode.NeedsLinkSpeed() && !s.hasSpeed() {
		return "down" // "failed to get link speed/duplex"
	}
	if b.miimon == 0 && b.arpInterval == 0 {
		return "up" // no monitoring: always up
	}
	if !s.up || !s.cable {
		return "down"
	}
	if s.slave.state == "back" && bondUp {
		return "up" // the monitor promotes it after updelay
	}
	return s.slave.state
}

func (k *Kernel) slavesOf(n *netns, bl *link) []*link {
	out := make([]*link, 0, len(bl.bond.slaves))
	for _, idx := range bl.bond.slaves {
		if s := n.links[idx]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// bondCarrier: some slave is up (802.3ad: min_links of them, once the
// state machine runs with the bond up).
func (k *Kernel) bondCarrier(n *netns, bl *link) bool {
	b := bl.bond
	ups := 0
	for _, s := range k.slavesOf(n, bl) {
		if linkState(b, s, bl.up) == "up" {
			ups++
		}
	}
	if b.mode == domain.Mode8023AD {
		return bl.up && ups >= max(1, int(*b.plain.MinLinks))
	}
	return ups > 0
}

// detach prepares a link to leave its namespace: down, released from its
// master, addresses and routes flushed.
func (k *Kernel) detach(n *netns, l *link) {
	// A device leaving its namespace or dying takes its VLANs with it
	// (the 8021q driver unregisters them on NETDEV_UNREGISTER).
	for _, v := range vlansOn(n, l) {
		k.removeLink(n, v)
	}
	l.up = false
	if l.master != 0 {
		if bl := n.links[l.master]; bl != nil && bl.bond != nil {
			k.release(n, bl, l, false)
		}
		l.master = 0
		l.slave = nil
	}
	l.addrs = nil
	n.routes = slices.DeleteFunc(n.routes, func(r route) bool { return r.link == l.index })
}

// removeLink deletes a link: a bond releases its slaves first, a slave is
// released from its bond.
func (k *Kernel) removeLink(n *netns, l *link) {
	if l.bond != nil {
		for _, s := range k.slavesOf(n, l) {
			k.release(n, l, s, true)
		}
	}
	k.detach(n, l)
	delete(n.links, l.index)
}

// setUp sets a link's admin state; a bond reselects its active slave when
// a slave changes or when it comes up (its monitor would).
func (k *Kernel) setUp(n *netns, l *link, up bool) {
	l.up = up
	switch {
	case l.bond != nil && up:
		k.selectActive(n, l)
	case l.master != 0:
		if bl := n.links[l.master]; bl != nil && bl.bond != nil && bl.up {
			k.selectActive(n, bl)
		}
	}
}
