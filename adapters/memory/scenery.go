package memory

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/bondcni/bond/domain"
)

// Scenery: what a test sets up and inspects around the code under test —
// namespaces, NICs, veths, carrier, speeds, addresses, routes, the death of
// a pod's namespace. These calls ignore armed faults and (but for
// DestroyNetns) stay out of Ops.

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
