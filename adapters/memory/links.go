package memory

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/bondcni/bond/domain"
)

// Link looks a link up by name.
func (k *Kernel) Link(ctx context.Context, ns domain.Netns, name string) (domain.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "Link", false); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("looking up link %s in %s", name, nsName(ns))
	n, err := k.netnsOf(ns)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	l := n.byName(name)
	if l == nil {
		return domain.Link{}, refuse(op, "ENODEV", "no such device")
	}
	return k.view(n, l), nil
}

// LinkByIndex looks a link up by ifindex.
func (k *Kernel) LinkByIndex(ctx context.Context, ns domain.Netns, index int) (domain.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "LinkByIndex", false); err != nil {
		return domain.Link{}, err
	}
	n, l, err := k.lookup(fmt.Sprintf("looking up ifindex %d in %s", index, nsName(ns)), ns, index)
	if err != nil {
		return domain.Link{}, err
	}
	return k.view(n, l), nil
}

// LinkByMAC returns the first link (in ifindex order) whose current or
// permanent MAC is mac.
func (k *Kernel) LinkByMAC(ctx context.Context, ns domain.Netns, mac net.HardwareAddr) (domain.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "LinkByMAC", false); err != nil {
		return domain.Link{}, err
	}
	n, err := k.netnsOf(ns)
	if err != nil {
		return domain.Link{}, fmt.Errorf("listing links in %s: %w", nsName(ns), err)
	}
	for _, l := range n.sorted() {
		if bytes.Equal(l.mac, mac) || (l.permMAC != nil && bytes.Equal(l.permMAC, mac)) {
			return k.view(n, l), nil
		}
	}
	return domain.Link{}, fmt.Errorf("no link with MAC %s in %s: %w", mac, nsName(ns), domain.ErrNotFound)
}

// Move moves a link to another namespace under newName ("" keeps its
// name). As in the kernel, the link goes down, is released from its master
// (which restores its MAC and MTU) and loses its addresses and routes; it
// keeps its ifindex unless that is taken in the target. A taken name fails
// first (domain.ErrExists, as adapters/nlkernel checks before sending);
// namespace-local links (bonds, bridges, lo) are refused (EINVAL).
func (k *Kernel) Move(ctx context.Context, from domain.Netns, index int, to domain.Netns, newName string) (l domain.Link, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("Move", err, "%s ifindex %d -> %s as %q", nsName(from), index, nsName(to), newName) }()
	if err := k.begin(ctx, "Move", true); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("moving ifindex %d from %s to %s as %s", index, nsName(from), nsName(to), newName)
	src, ml, err := k.lookup(op, from, index)
	if err != nil {
		return domain.Link{}, err
	}
	dst, err := k.netnsOf(to)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	if newName == "" {
		newName = ml.name
	}
	if !validName(newName) {
		return domain.Link{}, refuse(op, "EINVAL", "invalid interface name %q", newName)
	}
	if other := dst.byName(newName); other != nil && other != ml {
		return domain.Link{}, fmt.Errorf("%s: %w: a link named %s is already there", op, domain.ErrExists, newName)
	}
	if src == dst {
		// Same namespace: the kernel skips the move and only renames.
		if newName != ml.name {
			if ml.up {
				return domain.Link{}, refuse(op, "EBUSY", "cannot rename %s while it is up", ml.name)
			}
			ml.name = newName
		}
		return k.view(dst, ml), nil
	}
	if ml.netnsLocal() {
		return domain.Link{}, refuse(op, "EINVAL", "%s is namespace-local (a %s cannot change netns)", ml.name, kindName(ml))
	}
	k.detach(src, ml)
	delete(src.links, ml.index)
	if _, taken := dst.links[ml.index]; taken {
		ml.index = k.newIndex(dst)
	}
	ml.name = newName
	dst.links[ml.index] = ml
	return k.view(dst, ml), nil
}

func kindName(l *link) string {
	switch {
	case l.loopback:
		return "loopback"
	case l.kind == "":
		return "NIC"
	}
	return l.kind
}

// Restore sets name, MTU, MAC and admin state to the recorded values,
// sending only what differs, the way adapters/nlkernel does: down first if the
// link must be renamed or get a new MAC, then name, MTU and MAC, then the
// admin state. Everything is checked before anything changes.
func (k *Kernel) Restore(ctx context.Context, ns domain.Netns, index int, want domain.LinkState) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() {
		k.logOp("Restore", err, "%s ifindex %d to name=%q mtu=%d mac=%s up=%t", nsName(ns), index, want.Name, want.MTU, want.HardwareAddr(), want.Up)
	}()
	if err := k.begin(ctx, "Restore", true); err != nil {
		return err
	}
	n, l, err := k.lookup(fmt.Sprintf("restoring ifindex %d in %s", index, nsName(ns)), ns, index)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("restoring %s (ifindex %d) in %s", l.name, index, nsName(ns))
	rename := want.Name != "" && want.Name != l.name
	mac := want.HardwareAddr()
	if len(mac) == 0 || bytes.Equal(mac, l.mac) {
		mac = nil
	}
	mtu := 0
	if want.MTU != 0 && want.MTU != l.mtu {
		mtu = want.MTU
	}
	if rename {
		if !validName(want.Name) {
			return refuse(op, "EINVAL", "invalid interface name %q", want.Name)
		}
		if n.byName(want.Name) != nil {
			return refuse(op, "EEXIST", "a link named %s exists", want.Name)
		}
	}
	if mac != nil {
		if err := checkMAC(op, mac); err != nil {
			return err
		}
		if err := refusesMAC(op, l, mac); err != nil {
			return err
		}
	}
	if mtu != 0 {
		if err := k.checkMTU(op, n, l, mtu); err != nil {
			return err
		}
	}
	if l.up && (rename || mac != nil) {
		k.setUp(n, l, false)
	}
	if mac != nil {
		k.setMAC(n, l, mac)
	}
	if mtu != 0 {
		k.setMTU(n, l, mtu)
	}
	if rename {
		l.name = want.Name
	}
	if want.Up != l.up {
		k.setUp(n, l, want.Up)
	}
	return nil
}

// checkMTU refuses an MTU outside the driver's range; a bond's must suit
// every slave, since it is pushed onto them.
func (k *Kernel) checkMTU(op string, n *netns, l *link, mtu int) error {
	if mtu < l.minMTU || mtu > l.maxMTU {
		return refuse(op, "EINVAL", "MTU %d outside %s's range %d-%d", mtu, l.name, l.minMTU, l.maxMTU)
	}
	if l.bond != nil {
		for _, s := range k.slavesOf(n, l) {
			if mtu < s.minMTU || mtu > s.maxMTU {
				return refuse(op, "EINVAL", "MTU %d outside slave %s's range %d-%d", mtu, s.name, s.minMTU, s.maxMTU)
			}
		}
	}
	return nil
}

// setMTU sets an MTU checked by checkMTU; a bond's goes to its slaves.
func (k *Kernel) setMTU(n *netns, l *link, mtu int) {
	l.mtu = mtu
	if l.bond != nil {
		for _, s := range k.slavesOf(n, l) {
			s.mtu = mtu
		}
	}
	// VLANs bigger than their lower device shrink with it (NETDEV_CHANGEMTU).
	for _, v := range vlansOn(n, l) {
		if v.mtu > mtu {
			v.mtu = mtu
		}
	}
}

// setMAC sets a checked MAC. A bond in active-backup with fail_over_mac
// active ignores it (silently, as the kernel does); otherwise its slaves
// follow it (in tlb/alb only the active one carries it).
func (k *Kernel) setMAC(n *netns, l *link, mac net.HardwareAddr) {
	b := l.bond
	if b == nil {
		l.mac = slices.Clone(mac)
		return
	}
	if b.mode == domain.ModeActiveBackup && b.fom() != domain.FailOverMacNone {
		if b.fom() == domain.FailOverMacActive {
			return
		}
		l.mac = slices.Clone(mac)
		b.macRandom = false
		return
	}
	old := l.mac
	l.mac = slices.Clone(mac)
	b.macRandom = false
	for _, s := range k.slavesOf(n, l) {
		if isLB(b.mode) {
			if bytes.Equal(s.mac, old) {
				s.mac = slices.Clone(mac)
			}
			continue
		}
		s.mac = slices.Clone(mac)
	}
}

// SetUp sets the admin state.
func (k *Kernel) SetUp(ctx context.Context, ns domain.Netns, index int, up bool) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("SetUp", err, "%s ifindex %d up=%t", nsName(ns), index, up) }()
	if err := k.begin(ctx, "SetUp", true); err != nil {
		return err
	}
	n, l, err := k.lookup(fmt.Sprintf("setting ifindex %d up=%t in %s", index, up, nsName(ns)), ns, index)
	if err != nil {
		return err
	}
	k.setUp(n, l, up)
	return nil
}

// Delete removes a virtual link; a bond releases its slaves first. NICs
// and lo cannot be deleted (EOPNOTSUPP, domain.ErrUnsupported).
func (k *Kernel) Delete(ctx context.Context, ns domain.Netns, index int) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("Delete", err, "%s ifindex %d", nsName(ns), index) }()
	if err := k.begin(ctx, "Delete", true); err != nil {
		return err
	}
	op := fmt.Sprintf("deleting ifindex %d in %s", index, nsName(ns))
	n, l, err := k.lookup(op, ns, index)
	if err != nil {
		return err
	}
	if l.physical || l.loopback {
		return refuse(op, "EOPNOTSUPP", "operation not supported: a %s cannot be deleted", kindName(l))
	}
	k.removeLink(n, l)
	return nil
}
