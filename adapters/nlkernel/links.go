package nlkernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// extMask asks the kernel to leave the statistics out of link replies
// (RTEXT_FILTER_SKIP_STATS): smaller replies, same information otherwise.
var extMask = uint32(1 << 3)

// Link looks a link up by name with one RTM_GETLINK (no dump).
func (a *Adapter) Link(ctx context.Context, ns domain.Netns, name string) (domain.Link, error) {
	if err := ctx.Err(); err != nil {
		return domain.Link{}, err
	}
	c, err := a.conn(ns)
	if err != nil {
		return domain.Link{}, err
	}
	m, err := a.getByName(c, name)
	if err != nil {
		return domain.Link{}, wrap(fmt.Sprintf("looking up link %s in %s", name, netns.Name(ns)), err)
	}
	return m.link(), nil
}

// LinkByIndex looks a link up by ifindex.
func (a *Adapter) LinkByIndex(ctx context.Context, ns domain.Netns, index int) (domain.Link, error) {
	if err := ctx.Err(); err != nil {
		return domain.Link{}, err
	}
	c, err := a.conn(ns)
	if err != nil {
		return domain.Link{}, err
	}
	m, err := a.getByIndex(c, index)
	if err != nil {
		return domain.Link{}, wrap(fmt.Sprintf("looking up ifindex %d in %s", index, netns.Name(ns)), err)
	}
	return m.link(), nil
}

// LinkByMAC dumps the namespace's links and returns the first whose current
// or permanent MAC is mac. Recovery paths only.
func (a *Adapter) LinkByMAC(ctx context.Context, ns domain.Netns, mac net.HardwareAddr) (domain.Link, error) {
	if err := ctx.Err(); err != nil {
		return domain.Link{}, err
	}
	c, err := a.conn(ns)
	if err != nil {
		return domain.Link{}, err
	}
	links, err := a.dump(c, nil)
	if err != nil {
		return domain.Link{}, wrap(fmt.Sprintf("listing links in %s", netns.Name(ns)), err)
	}
	for _, m := range links {
		l := m.link()
		if bytes.Equal(l.MAC, mac) || (l.PermMAC != nil && bytes.Equal(l.PermMAC, mac)) {
			return l, nil
		}
	}
	return domain.Link{}, fmt.Errorf("no link with MAC %s in %s: %w", mac, netns.Name(ns), domain.ErrNotFound)
}

// Move moves a link to another namespace and names it newName there in one
// RTM_NEWLINK (IFLA_NET_NS_FD and IFLA_IFNAME): the kernel moves, then
// renames. The move leaves the link down. The name is checked first in the
// target, so a taken name fails before anything moves (domain.ErrExists).
func (a *Adapter) Move(ctx context.Context, from domain.Netns, index int, to domain.Netns, newName string) (domain.Link, error) {
	if err := ctx.Err(); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("moving ifindex %d from %s to %s as %s", index, netns.Name(from), netns.Name(to), newName)
	cFrom, err := a.conn(from)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	cTo, err := a.conn(to)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	if _, err := a.getByName(cTo, newName); err == nil {
		return domain.Link{}, fmt.Errorf("%s: %w: a link named %s is already there", op, domain.ErrExists, newName)
	} else if !errors.Is(err, unix.ENODEV) {
		return domain.Link{}, wrap(op, err)
	}
	target, err := netns.Open(to)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	defer target.Close()
	err = a.setLink(cFrom, &rtnetlink.LinkMessage{
		Index: uint32(index),
		Attributes: &rtnetlink.LinkAttributes{
			Name:  newName,
			NetNS: rtnetlink.NetNSForFD(uint32(target.Fd())),
		},
	})
	if err != nil {
		return domain.Link{}, wrap(op, err)
	}
	m, err := a.getByName(cTo, newName)
	if err != nil {
		return domain.Link{}, wrap(op+": reading it back", err)
	}
	return m.link(), nil
}

// Restore gives a link back its recorded name, MTU, MAC and admin state,
// sending only what differs: the link goes down first if it must be renamed
// or get a new MAC, then one message carries name, MTU and MAC, then the
// admin state is set last.
func (a *Adapter) Restore(ctx context.Context, ns domain.Netns, index int, want domain.LinkState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := a.conn(ns)
	if err != nil {
		return err
	}
	m, err := a.getByIndex(c, index)
	if err != nil {
		return wrap(fmt.Sprintf("restoring ifindex %d in %s", index, netns.Name(ns)), err)
	}
	cur := m.link()
	op := fmt.Sprintf("restoring %s (ifindex %d) in %s", cur.Name, index, netns.Name(ns))
	rename := want.Name != "" && want.Name != cur.Name
	mac := want.HardwareAddr()
	if bytes.Equal(mac, cur.MAC) {
		mac = nil
	}
	mtu := 0
	if want.MTU != 0 && want.MTU != cur.MTU {
		mtu = want.MTU
	}
	up := cur.Up
	if up && (rename || mac != nil) {
		if err := a.setLink(c, flagsMsg(index, false)); err != nil {
			return wrap(op+": setting it down", err)
		}
		up = false
	}
	if rename || mac != nil || mtu != 0 {
		attrs := &rtnetlink.LinkAttributes{MTU: uint32(mtu), Address: mac}
		if rename {
			attrs.Name = want.Name
		}
		if err := a.setLink(c, &rtnetlink.LinkMessage{Index: uint32(index), Attributes: attrs}); err != nil {
			werr := wrap(fmt.Sprintf("%s: setting name %q, MTU %d, MAC %s", op, want.Name, want.MTU, want.HardwareAddr()), err)
			// The kernel applied none of it (a VF refusing the MAC, say):
			// undo the down message too, so the call changes nothing.
			if cur.Up && !up {
				if uerr := a.setLink(c, flagsMsg(index, true)); uerr != nil {
					return fmt.Errorf("%w; setting it up again failed too: %w", werr, wrap("restoring its admin state", uerr))
				}
			}
			return werr
		}
	}
	if want.Up != up {
		if err := a.setLink(c, flagsMsg(index, want.Up)); err != nil {
			return wrap(fmt.Sprintf("%s: setting up=%t", op, want.Up), err)
		}
	}
	return nil
}

// SetUp sets the admin state.
func (a *Adapter) SetUp(ctx context.Context, ns domain.Netns, index int, up bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := a.conn(ns)
	if err != nil {
		return err
	}
	if err := a.setLink(c, flagsMsg(index, up)); err != nil {
		return wrap(fmt.Sprintf("setting %s up=%t in %s", a.describe(c, index), up, netns.Name(ns)), err)
	}
	return nil
}

// Delete removes a link.
func (a *Adapter) Delete(ctx context.Context, ns domain.Netns, index int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := a.conn(ns)
	if err != nil {
		return err
	}
	_, err = a.exec(c, &rtnetlink.LinkMessage{Index: uint32(index)}, unix.RTM_DELLINK, netlink.Request|netlink.Acknowledge)
	if err != nil {
		return wrap(fmt.Sprintf("deleting %s in %s", a.describe(c, index), netns.Name(ns)), err)
	}
	return nil
}

// flagsMsg sets IFF_UP and changes no other flag.
func flagsMsg(index int, up bool) *rtnetlink.LinkMessage {
	m := &rtnetlink.LinkMessage{Index: uint32(index), Change: unix.IFF_UP}
	if up {
		m.Flags = unix.IFF_UP
	}
	return m
}

// setLink sends one RTM_NEWLINK (no create) and waits for the ack.
func (a *Adapter) setLink(c executor, m *rtnetlink.LinkMessage) error {
	_, err := a.exec(c, m, unix.RTM_NEWLINK, netlink.Request|netlink.Acknowledge)
	return err
}

func (a *Adapter) getByName(c executor, name string) (linkReply, error) {
	return a.getLink(c, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: name, ExtMask: &extMask}})
}

func (a *Adapter) getByIndex(c executor, index int) (linkReply, error) {
	return a.getLink(c, &rtnetlink.LinkMessage{Index: uint32(index), Attributes: &rtnetlink.LinkAttributes{ExtMask: &extMask}})
}

func (a *Adapter) getLink(c executor, req *rtnetlink.LinkMessage) (linkReply, error) {
	links, err := a.execLinks(c, req, netlink.Request)
	if err != nil {
		return linkReply{}, err
	}
	if len(links) == 0 {
		return linkReply{}, fmt.Errorf("no link in the kernel's reply: %w", unix.ENODEV)
	}
	return links[0], nil
}

// dump lists the namespace's links; with master set, the kernel returns
// only that master's ports (IFLA_MASTER dump filter, strict socket).
func (a *Adapter) dump(c executor, master *uint32) ([]linkReply, error) {
	req := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{ExtMask: &extMask, Master: master}}
	links, err := a.execLinks(c, req, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, err
	}
	var out []linkReply
	for _, l := range links {
		// Kernels without the filter return every link; filter here too.
		if master != nil && (l.Attributes == nil || l.Attributes.Master == nil || *l.Attributes.Master != *master) {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// execLinks sends one RTM_GETLINK and returns the links of the reply. On a
// connection that returns raw replies it also reads each link's MTU range,
// which rtnetlink does not decode; still one round trip.
func (a *Adapter) execLinks(c executor, req *rtnetlink.LinkMessage, flags netlink.HeaderFlags) ([]linkReply, error) {
	var out []linkReply
	if rc, ok := c.(rawExecutor); ok {
		a.trips.Add(1)
		msgs, err := rc.ExecuteRaw(req, unix.RTM_GETLINK, flags)
		if err != nil {
			return nil, err
		}
		for _, nm := range msgs {
			if nm.Header.Type != unix.RTM_NEWLINK {
				continue
			}
			r, err := replyFromRaw(nm.Data)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	msgs, err := a.exec(c, req, unix.RTM_GETLINK, flags)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if lm, ok := m.(*rtnetlink.LinkMessage); ok {
			out = append(out, linkReply{LinkMessage: *lm})
		}
	}
	return out, nil
}

// describe names a link for an error message, at the cost of one lookup
// (error paths only).
func (a *Adapter) describe(c executor, index int) string {
	if m, err := a.getByIndex(c, index); err == nil && m.Attributes != nil {
		return fmt.Sprintf("%s (ifindex %d)", m.Attributes.Name, index)
	}
	return fmt.Sprintf("ifindex %d", index)
}
