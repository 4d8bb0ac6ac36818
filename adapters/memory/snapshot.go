package memory

import (
	"fmt"
	"strings"

	"github.com/bondcni/bond/domain"
)

// State is a deterministic, comparable description of every namespace,
// link (with all its attributes, bonding state included), address and
// route of a Kernel. Two States are equal (reflect.DeepEqual, testify's
// Equal, or Equal) exactly when the kernels hold the same things; String
// renders one for reading and diffing.
type State struct {
	Netns []NetnsState
}

// NetnsState is one namespace: its links in ifindex order, its routes in
// the order added.
type NetnsState struct {
	Path   domain.Netns
	Links  []LinkSnapshot
	Routes []string
}

// LinkSnapshot is every attribute of one link. Bond and Slave are the
// bonding driver's state, rendered as text ("" when not a bond / slave).
type LinkSnapshot struct {
	Index     int
	Name      string
	Kind      string
	Physical  bool
	Loopback  bool
	MTU       int
	MaxMTU    int
	MAC       string
	PermMAC   string
	Up        bool
	Cable     bool
	Master    int
	Alias     string
	Speed     int
	Duplex    string
	PCI       string
	Addresses []string
	Bond      string
	Slave     string
	VLAN      string
}

// Snapshot describes the whole kernel; see State.
func (k *Kernel) Snapshot() State {
	k.mu.Lock()
	defer k.mu.Unlock()
	var st State
	for _, path := range k.sortedNetns() {
		n := k.netns[path]
		ns := NetnsState{Path: path}
		for _, l := range n.sorted() {
			ns.Links = append(ns.Links, k.snapLink(n, l))
		}
		for _, r := range n.routes {
			name := fmt.Sprintf("ifindex %d", r.link)
			if l := n.links[r.link]; l != nil {
				name = l.name
			}
			ns.Routes = append(ns.Routes, routeString(r.r, name))
		}
		st.Netns = append(st.Netns, ns)
	}
	return st
}

func (k *Kernel) snapLink(n *netns, l *link) LinkSnapshot {
	s := LinkSnapshot{
		Index: l.index, Name: l.name, Kind: l.kind, Physical: l.physical, Loopback: l.loopback,
		MTU: l.mtu, MaxMTU: l.maxMTU, MAC: l.mac.String(), PermMAC: l.permMAC.String(),
		Up: l.up, Cable: l.cable, Master: l.master, Alias: l.alias,
		Speed: l.speed, Duplex: l.duplex, PCI: l.pci,
	}
	for _, a := range l.addrs {
		s.Addresses = append(s.Addresses, a.String())
	}
	if b := l.bond; b != nil {
		o := k.options(n, l)
		var plain strings.Builder
		for r := range domain.BondOptionRows() {
			if v, ok := r.Uint(&b.plain); ok {
				fmt.Fprintf(&plain, " %s=%d", r.Kernel, v)
			}
		}
		s.Bond = fmt.Sprintf("mode=%s miimon=%d updelay=%d downdelay=%d arp_interval=%d arp_ip_target=%v arp_validate=%d primary=%q%s mac_random=%t slaves=%v active=%d",
			b.mode, b.miimon, *o.UpDelay, *o.DownDelay, b.arpInterval, b.targets, b.arpValidate, b.primary, plain.String(),
			b.macRandom, b.slaves, b.active)
	}
	if v := l.vlan; v != nil {
		s.VLAN = fmt.Sprintf("id=%d protocol=%s lower=%d", v.id, v.proto, v.lower)
	}
	if sl := l.slave; sl != nil {
		s.Slave = fmt.Sprintf("perm_hwaddr=%s saved_mtu=%d link=%s", sl.permHW, sl.savedMTU, sl.state)
	}
	return s
}

func routeString(r domain.Route, dev string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Dst)
	if r.GW.IsValid() {
		fmt.Fprintf(&b, " via %s", r.GW)
	}
	fmt.Fprintf(&b, " dev %s", dev)
	if r.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", r.MTU)
	}
	if r.Priority != 0 {
		fmt.Fprintf(&b, " metric %d", r.Priority)
	}
	if r.Table != nil {
		fmt.Fprintf(&b, " table %d", *r.Table)
	}
	if r.Scope != nil {
		fmt.Fprintf(&b, " scope %d", *r.Scope)
	}
	return b.String()
}

// String renders the state one line per link and route, in a stable order.
func (s State) String() string {
	var b strings.Builder
	for _, ns := range s.Netns {
		fmt.Fprintf(&b, "%s:\n", nsName(ns.Path))
		for _, l := range ns.Links {
			fmt.Fprintf(&b, "  %d: %s kind=%q physical=%t mtu=%d/%d mac=%s perm=%s up=%t cable=%t master=%d alias=%q speed=%d/%s pci=%q addrs=%v",
				l.Index, l.Name, l.Kind, l.Physical, l.MTU, l.MaxMTU, l.MAC, l.PermMAC, l.Up, l.Cable, l.Master, l.Alias, l.Speed, l.Duplex, l.PCI, l.Addresses)
			if l.Bond != "" {
				fmt.Fprintf(&b, "\n     bond: %s", l.Bond)
			}
			if l.Slave != "" {
				fmt.Fprintf(&b, "\n     slave: %s", l.Slave)
			}
			b.WriteByte('\n')
		}
		for _, r := range ns.Routes {
			fmt.Fprintf(&b, "  route %s\n", r)
		}
	}
	return b.String()
}

// Equal reports whether two states are the same.
func (s State) Equal(o State) bool { return s.String() == o.String() }
