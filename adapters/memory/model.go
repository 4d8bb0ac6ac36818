package memory

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/bondcni/bond/domain"
)

// The model's internals: lookups, naming, the domain's view of a link, and
// the state changes the port methods share. Every function here runs with
// the Kernel's lock held.

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

func (k *Kernel) sortedNetns() []domain.Netns {
	out := make([]domain.Netns, 0, len(k.netns))
	for ns := range k.netns {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}
