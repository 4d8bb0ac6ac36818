package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

var _ ports.VLANs = (*Kernel)(nil)

// vlanDev is the 8021q driver's state of one VLAN device.
type vlanDev struct {
	id    int
	proto domain.VLANProtocol
	lower int // ifindex of the real device, in the same namespace
}

// CreateVLAN creates a VLAN device on lowerIndex with the 8021q driver's
// checks (vlan_validate, vlan_check_real_dev, vlan_newlink): id at most
// 4094 (ERANGE), protocol 802.1Q or 802.1ad (EPROTONOSUPPORT), the lower
// device present (ENODEV), one device per (lower, protocol, id) and a free
// name (EEXIST), MTU at most the lower device's (EINVAL; 0 takes it). The
// device starts down with the lower device's MAC.
func (k *Kernel) CreateVLAN(ctx context.Context, ns domain.Netns, lowerIndex int, spec domain.VLANSpec, alias string) (l domain.Link, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() {
		k.logOp("CreateVLAN", err, "%s %s id %d %s on ifindex %d", nsName(ns), spec.Name, spec.ID, spec.Protocol, lowerIndex)
	}()
	if err := k.begin(ctx, "CreateVLAN", true); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("creating VLAN %s (id %d, %s) in %s", spec.Name, spec.ID, spec.Protocol, nsName(ns))
	n, lower, err := k.lookup(op, ns, lowerIndex)
	if err != nil {
		return domain.Link{}, err
	}
	switch {
	case !validName(spec.Name):
		return domain.Link{}, refuse(op, "EINVAL", "invalid interface name %q", spec.Name)
	case spec.ID < 0 || spec.ID > domain.MaxVLANID:
		return domain.Link{}, refuse(op, "ERANGE", "VLAN id %d out of range", spec.ID)
	case spec.Protocol != domain.VLAN8021Q && spec.Protocol != domain.VLAN8021AD:
		return domain.Link{}, refuse(op, "EPROTONOSUPPORT", "protocol %s not supported", spec.Protocol)
	case spec.MTU > lower.mtu:
		return domain.Link{}, refuse(op, "EINVAL", "MTU %d larger than the lower device's %d", spec.MTU, lower.mtu)
	case len(alias) > 255:
		return domain.Link{}, refuse(op, "EINVAL", "alias longer than 255 bytes")
	case n.byName(spec.Name) != nil:
		return domain.Link{}, refuse(op, "EEXIST", "file exists")
	}
	for _, o := range n.links {
		if o.vlan != nil && o.vlan.lower == lowerIndex && o.vlan.proto == spec.Protocol && o.vlan.id == spec.ID {
			return domain.Link{}, refuse(op, "EEXIST", "VLAN device already exists")
		}
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = lower.mtu
	}
	vl := &link{
		index: k.newIndex(n), name: spec.Name, kind: "vlan", mtu: mtu, minMTU: 0, maxMTU: 65535,
		mac: slices.Clone(lower.mac), cable: true, alias: alias,
		vlan: &vlanDev{id: spec.ID, proto: spec.Protocol, lower: lowerIndex},
	}
	n.links[vl.index] = vl
	return k.view(n, vl), nil
}

// VLAN reads a VLAN device by name.
func (k *Kernel) VLAN(ctx context.Context, ns domain.Netns, name string) (domain.VLANState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "VLAN", false); err != nil {
		return domain.VLANState{}, err
	}
	op := fmt.Sprintf("reading VLAN %s in %s", name, nsName(ns))
	n, err := k.netnsOf(ns)
	if err != nil {
		return domain.VLANState{}, fmt.Errorf("%s: %w", op, err)
	}
	l := n.byName(name)
	if l == nil {
		return domain.VLANState{}, refuse(op, "ENODEV", "no such device")
	}
	if l.vlan == nil {
		return domain.VLANState{Link: k.view(n, l)}, fmt.Errorf("%s: %w (kind %q)", op, domain.ErrNotVLAN, l.kind)
	}
	return domain.VLANState{Link: k.view(n, l), ID: l.vlan.id, Protocol: l.vlan.proto, LowerIndex: l.vlan.lower}, nil
}

// AddVLAN adds a VLAN device directly (scenery, such as a VLAN someone else
// put on a link), panicking on a refusal.
func (k *Kernel) AddVLAN(ns domain.Netns, lower string, spec domain.VLANSpec) domain.Link {
	k.mu.Lock()
	n := k.netns[ns]
	if n == nil || n.byName(lower) == nil {
		k.mu.Unlock()
		panic(fmt.Sprintf("memory: AddVLAN: no link %q in %s", lower, nsName(ns)))
	}
	idx := n.byName(lower).index
	k.mu.Unlock()
	l, err := k.CreateVLAN(context.Background(), ns, idx, spec, "")
	if err != nil {
		panic(fmt.Sprintf("memory: AddVLAN: %v", err))
	}
	return l
}

// vlansOn returns the VLAN devices whose lower device is l.
func vlansOn(n *netns, l *link) []*link {
	var out []*link
	for _, v := range n.sorted() {
		if v.vlan != nil && v.vlan.lower == l.index {
			out = append(out, v)
		}
	}
	return out
}

// vlanCarrier: a VLAN device has its lower device's carrier, up or down
// (the 8021q driver copies the lower's operstate onto it).
func (k *Kernel) vlanCarrier(n *netns, l *link) bool {
	lower := n.links[l.vlan.lower]
	return lower != nil && k.view(n, lower).Carrier
}
