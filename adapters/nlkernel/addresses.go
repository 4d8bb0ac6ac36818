package nlkernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// Configure adds the addresses (an address already present is fine), then
// the routes, all through the link. Routes with a gateway need the link up.
func (a *Adapter) Configure(ctx context.Context, ns domain.Netns, index int, ips []domain.IPConfig, routes []domain.Route) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := a.conn(ns)
	if err != nil {
		return err
	}
	create := netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl
	for _, ip := range ips {
		m, err := addressMsg(index, ip.Address)
		if err != nil {
			return err
		}
		_, err = a.exec(c, m, unix.RTM_NEWADDR, create)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return wrap(fmt.Sprintf("adding address %s to %s in %s", ip.Address, a.describe(c, index), netns.Name(ns)), err)
		}
	}
	for _, r := range routes {
		m, err := routeMsg(index, r)
		if err != nil {
			return err
		}
		if _, err := a.exec(c, m, unix.RTM_NEWROUTE, create); err != nil {
			return wrap(fmt.Sprintf("adding route %s via %s to %s in %s", r.Dst, r.GW, a.describe(c, index), netns.Name(ns)), err)
		}
	}
	return nil
}

// Addresses lists the link's global addresses; the link-local ones the
// kernel makes by itself are left out.
func (a *Adapter) Addresses(ctx context.Context, ns domain.Netns, index int) ([]domain.IPConfig, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := a.conn(ns)
	if err != nil {
		return nil, err
	}
	// With a strict socket the kernel filters the dump by ifindex.
	msgs, err := a.exec(c, &rtnetlink.AddressMessage{Index: uint32(index)}, unix.RTM_GETADDR, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, wrap(fmt.Sprintf("listing addresses of ifindex %d in %s", index, netns.Name(ns)), err)
	}
	var out []domain.IPConfig
	for _, msg := range msgs {
		m, ok := msg.(*rtnetlink.AddressMessage)
		if !ok || int(m.Index) != index || m.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		if p, ok := addressFrom(m); ok {
			out = append(out, domain.IPConfig{Address: p})
		}
	}
	return out, nil
}

// addressMsg builds an RTM_NEWADDR for p on the link: IPv4 with its local
// and broadcast addresses, IPv6 with the kernel's defaults (DAD included).
func addressMsg(index int, p netip.Prefix) (*rtnetlink.AddressMessage, error) {
	if !p.IsValid() {
		return nil, fmt.Errorf("invalid address %v", p)
	}
	addr := p.Addr().Unmap()
	m := &rtnetlink.AddressMessage{
		PrefixLength: uint8(p.Bits()),
		Scope:        unix.RT_SCOPE_UNIVERSE,
		Index:        uint32(index),
		Attributes:   &rtnetlink.AddressAttributes{Address: net.IP(addr.AsSlice())},
	}
	if addr.Is4() {
		m.Family = unix.AF_INET
		m.Attributes.Local = net.IP(addr.AsSlice())
		if p.Bits() < 31 {
			m.Attributes.Broadcast = broadcast(netip.PrefixFrom(addr, p.Bits()))
		}
	} else {
		m.Family = unix.AF_INET6
	}
	return m, nil
}

// broadcast returns the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) net.IP {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	for i := range 4 {
		b[i] |= byte(host >> (24 - 8*i))
	}
	return net.IP(b[:])
}

func addressFrom(m *rtnetlink.AddressMessage) (netip.Prefix, bool) {
	if m.Attributes == nil {
		return netip.Prefix{}, false
	}
	ip := m.Attributes.Local // IPv4: IFA_LOCAL is the address, IFA_ADDRESS the peer
	if ip == nil {
		ip = m.Attributes.Address
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr.Unmap(), int(m.PrefixLength)), true
}

// routeMsg builds an RTM_NEWROUTE through the link: via GW when set, else
// directly connected (scope link); MTU, priority, table and scope honoured
// when set.
func routeMsg(index int, r domain.Route) (*rtnetlink.RouteMessage, error) {
	if !r.Dst.IsValid() {
		return nil, fmt.Errorf("route with invalid destination %v", r.Dst)
	}
	dst := r.Dst.Masked()
	is4 := dst.Addr().Unmap().Is4()
	m := &rtnetlink.RouteMessage{
		Family:    unix.AF_INET6,
		DstLength: uint8(dst.Bits()),
		Table:     unix.RT_TABLE_MAIN,
		Protocol:  unix.RTPROT_BOOT,
		Scope:     unix.RT_SCOPE_UNIVERSE,
		Type:      unix.RTN_UNICAST,
		Attributes: rtnetlink.RouteAttributes{
			OutIface: uint32(index),
			Priority: uint32(max(r.Priority, 0)),
		},
	}
	if is4 {
		m.Family = unix.AF_INET
	}
	if dst.Bits() > 0 {
		m.Attributes.Dst = net.IP(dst.Addr().Unmap().AsSlice())
	}
	if r.GW.IsValid() {
		gw := r.GW.Unmap()
		if gw.Is4() != is4 {
			return nil, fmt.Errorf("route %s: gateway %s is of another address family", r.Dst, r.GW)
		}
		m.Attributes.Gateway = net.IP(gw.AsSlice())
	} else {
		m.Scope = unix.RT_SCOPE_LINK
	}
	if r.Scope != nil {
		m.Scope = uint8(*r.Scope)
	}
	if r.Table != nil {
		if t := *r.Table; t < 256 {
			m.Table = uint8(t)
		} else {
			m.Table = unix.RT_TABLE_UNSPEC
			m.Attributes.Table = uint32(t)
		}
	}
	if r.MTU > 0 {
		m.Attributes.Metrics = &rtnetlink.RouteMetrics{MTU: uint32(r.MTU)}
	}
	return m, nil
}

// CarriesDefaultRoute dumps the namespace's routes (IPv4 and IPv6) and
// reports whether a default route leaves through the link, directly or as
// one of its multipath next hops.
func (a *Adapter) CarriesDefaultRoute(ctx context.Context, ns domain.Netns, index int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	c, err := a.conn(ns)
	if err != nil {
		return false, err
	}
	// One dump of every family (AF_UNSPEC: IPv4 and IPv6 in one round
	// trip). On the strict socket the kernel filters it by RTA_OIF, so its
	// size does not grow with the node's routing table; multipath routes
	// are still matched below in case a kernel ignores the filter.
	req := &rtnetlink.RouteMessage{Family: unix.AF_UNSPEC, Attributes: rtnetlink.RouteAttributes{OutIface: uint32(index)}}
	msgs, err := a.exec(c, req, unix.RTM_GETROUTE, netlink.Request|netlink.Dump)
	if err != nil {
		return false, wrap(fmt.Sprintf("listing routes in %s", netns.Name(ns)), err)
	}
	for _, msg := range msgs {
		m, ok := msg.(*rtnetlink.RouteMessage)
		if !ok || m.DstLength != 0 || m.Type != unix.RTN_UNICAST || (m.Family != unix.AF_INET && m.Family != unix.AF_INET6) {
			continue
		}
		if int(m.Attributes.OutIface) == index {
			return true, nil
		}
		for _, hop := range m.Attributes.Multipath {
			if int(hop.Hop.IfIndex) == index {
				return true, nil
			}
		}
	}
	return false, nil
}
