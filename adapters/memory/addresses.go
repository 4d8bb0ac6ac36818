package memory

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/bondcni/bond/domain"
)

const tableMain = 254

// routeKey identifies a route the way NLM_F_EXCL does: same table,
// destination and priority is the same route.
func routeKey(r domain.Route) (table int, dst netip.Prefix, prio int) {
	table = tableMain
	if r.Table != nil {
		table = *r.Table
	}
	dst = r.Dst.Masked()
	prio = r.Priority
	if prio == 0 && !dst.Addr().Unmap().Is4() {
		prio = 1024 // IP6_RT_PRIO_USER
	}
	return table, dst, prio
}

// Configure adds the addresses (one already present is fine), then the
// routes, through the link, in order and not atomically, as the kernel
// would: a gateway must be reachable through an address or a direct route
// on the link (IPv4: and the link up; ENETUNREACH, EHOSTUNREACH for IPv6),
// every route needs the link up (ENETDOWN), and a route that exists
// already is domain.ErrExists.
func (k *Kernel) Configure(ctx context.Context, ns domain.Netns, index int, ips []domain.IPConfig, routes []domain.Route) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("Configure", err, "%s ifindex %d ips=%v routes=%v", nsName(ns), index, ips, routes) }()
	if err := k.begin(ctx, "Configure", true); err != nil {
		return err
	}
	n, l, err := k.lookup(fmt.Sprintf("configuring ifindex %d in %s", index, nsName(ns)), ns, index)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.Address.IsValid() {
			return fmt.Errorf("invalid address %v", ip.Address)
		}
		p := netip.PrefixFrom(ip.Address.Addr().Unmap(), ip.Address.Bits())
		if !slices.Contains(l.addrs, p) {
			l.addrs = append(l.addrs, p)
		}
	}
	for _, r := range routes {
		op := fmt.Sprintf("adding route %s via %s to %s in %s", r.Dst, r.GW, l.name, nsName(ns))
		if !r.Dst.IsValid() {
			return fmt.Errorf("route with invalid destination %v", r.Dst)
		}
		is4 := r.Dst.Addr().Unmap().Is4()
		if r.GW.IsValid() && r.GW.Unmap().Is4() != is4 {
			return fmt.Errorf("route %s: gateway %s is of another address family", r.Dst, r.GW)
		}
		// The gateway is checked first: IPv4 reaches it only through a
		// prefix route, which exists while the link is up.
		switch gw := r.GW.Unmap(); {
		case gw.Is4() && (!l.up || !k.reachable(n, l, gw)):
			return refuse(op, "ENETUNREACH", "Nexthop has invalid gateway")
		case gw.Is6() && !k.reachable(n, l, gw):
			return refuse(op, "EHOSTUNREACH", "no route to host")
		case !l.up && is4:
			return refuse(op, "ENETDOWN", "Device for nexthop is not up")
		case !l.up:
			return refuse(op, "ENETDOWN", "Nexthop device is not up")
		}
		t, d, p := routeKey(r)
		for _, x := range n.routes {
			if xt, xd, xp := routeKey(x.r); xt == t && xd == d && xp == p {
				return refuse(op, "EEXIST", "route exists")
			}
		}
		n.routes = append(n.routes, route{link: l.index, r: r})
	}
	return nil
}

// reachable: gw is link-local (IPv6), inside one of the link's prefixes,
// or inside a direct route through it.
func (k *Kernel) reachable(n *netns, l *link, gw netip.Addr) bool {
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return true
	}
	for _, a := range l.addrs {
		if a.Masked().Contains(gw) {
			return true
		}
	}
	for _, r := range n.routes {
		if r.link == l.index && !r.r.GW.IsValid() && r.r.Dst.Masked().Contains(gw) {
			return true
		}
	}
	return false
}

// Addresses lists the link's addresses, IPv4 first, each family in the
// order added.
func (k *Kernel) Addresses(ctx context.Context, ns domain.Netns, index int) ([]domain.IPConfig, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "Addresses", false); err != nil {
		return nil, err
	}
	_, l, err := k.lookup(fmt.Sprintf("listing addresses of ifindex %d in %s", index, nsName(ns)), ns, index)
	if err != nil {
		return nil, err
	}
	var out []domain.IPConfig
	for _, v4 := range []bool{true, false} {
		for _, a := range l.addrs {
			if a.Addr().Is4() == v4 {
				out = append(out, domain.IPConfig{Address: a})
			}
		}
	}
	return out, nil
}

// CarriesDefaultRoute reports whether a default route leaves through the link.
func (k *Kernel) CarriesDefaultRoute(ctx context.Context, ns domain.Netns, index int) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "CarriesDefaultRoute", false); err != nil {
		return false, err
	}
	n, l, err := k.lookup(fmt.Sprintf("listing routes of ifindex %d in %s", index, nsName(ns)), ns, index)
	if err != nil {
		return false, err
	}
	for _, r := range n.routes {
		if r.link == l.index && r.r.Dst.Bits() == 0 {
			return true, nil
		}
	}
	return false, nil
}
