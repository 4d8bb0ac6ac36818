package nlkernel

import (
	"context"
	"fmt"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

var _ ports.VLANs = (*Adapter)(nil)

// CreateVLAN creates the VLAN device in one message carrying its name, MTU,
// lower device (IFLA_LINK), id and protocol, then marks it with alias, as
// CreateBond does. The device is left down.
func (a *Adapter) CreateVLAN(ctx context.Context, ns domain.Netns, lowerIndex int, spec domain.VLANSpec, alias string) (domain.Link, error) {
	if err := ctx.Err(); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("creating VLAN %s (id %d, %s) on ifindex %d in %s", spec.Name, spec.ID, spec.Protocol, lowerIndex, netns.Name(ns))
	c, err := a.conn(ns)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	if spec.ID < 0 || spec.ID > 0xffff {
		return domain.Link{}, fmt.Errorf("%s: %w: id out of range", op, domain.ErrKernelRefused) // uint16 on the wire
	}
	id, proto := uint16(spec.ID), driver.VlanProtocol(spec.Protocol)
	attrs := &rtnetlink.LinkAttributes{
		Name: spec.Name,
		MTU:  uint32(max(spec.MTU, 0)),
		Type: uint32(lowerIndex),
		Info: &rtnetlink.LinkInfo{Kind: "vlan", Data: &driver.Vlan{ID: &id, Protocol: &proto}},
	}
	return a.createMarked(c, op, "VLAN", attrs, alias)
}

// createMarked creates a link in one RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL),
// then sets its alias in a second message (the create path ignores
// IFLA_IFALIAS), deleting the link again if that fails, and reads it back.
func (a *Adapter) createMarked(c executor, op, what string, attrs *rtnetlink.LinkAttributes, alias string) (domain.Link, error) {
	flags := netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl
	if _, err := a.exec(c, &rtnetlink.LinkMessage{Attributes: attrs}, unix.RTM_NEWLINK, flags); err != nil {
		return domain.Link{}, wrap(op, err)
	}
	// By name (ifindex 0): the kernel finds the link and does not rename it.
	err := a.setLink(c, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: attrs.Name, Alias: &alias}})
	if err != nil {
		_, derr := a.exec(c, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: attrs.Name}}, unix.RTM_DELLINK, netlink.Request|netlink.Acknowledge)
		if derr != nil {
			return domain.Link{}, wrap(fmt.Sprintf("%s: setting alias %q (and deleting the %s again failed too: %v)", op, alias, what, derr), err)
		}
		return domain.Link{}, wrap(fmt.Sprintf("%s: setting alias %q (%s deleted again)", op, alias, what), err)
	}
	m, err := a.getByName(c, attrs.Name)
	if err != nil {
		return domain.Link{}, wrap(op+": reading it back", err)
	}
	return m.link(), nil
}

// VLAN reads a VLAN device by name in one RTM_GETLINK. A link that is not
// a VLAN gives an error wrapping domain.ErrNotVLAN (and its Link in the
// returned state).
func (a *Adapter) VLAN(ctx context.Context, ns domain.Netns, name string) (domain.VLANState, error) {
	if err := ctx.Err(); err != nil {
		return domain.VLANState{}, err
	}
	op := fmt.Sprintf("reading VLAN %s in %s", name, netns.Name(ns))
	c, err := a.conn(ns)
	if err != nil {
		return domain.VLANState{}, fmt.Errorf("%s: %w", op, err)
	}
	m, err := a.getByName(c, name)
	if err != nil {
		return domain.VLANState{}, wrap(op, err)
	}
	st := domain.VLANState{Link: m.link()}
	if m.vlan != nil {
		st.ID, st.Protocol, st.LowerIndex = m.vlan.ID, m.vlan.Protocol, m.vlan.LowerIndex
		return st, nil
	}
	var data *driver.Vlan
	if m.Attributes != nil && m.Attributes.Info != nil {
		data, _ = m.Attributes.Info.Data.(*driver.Vlan)
	}
	if st.Link.Kind != "vlan" || data == nil {
		return st, fmt.Errorf("%s: %w (kind %q)", op, domain.ErrNotVLAN, st.Link.Kind)
	}
	if data.ID != nil {
		st.ID = int(*data.ID)
	}
	st.Protocol = domain.VLAN8021Q // when the reply carries no IFLA_VLAN_PROTOCOL
	if data.Protocol != nil {
		st.Protocol = domain.VLANProtocol(*data.Protocol)
	}
	st.LowerIndex = int(m.Attributes.Type)
	return st, nil
}
