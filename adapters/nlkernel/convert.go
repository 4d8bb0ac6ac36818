package nlkernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// masterKinds are link kinds that take ports (and so cannot be enslaved).
var masterKinds = []string{"bond", "bridge", "team", "openvswitch", "vrf"}

// linkFrom converts a link message to the domain's view of a link.
func linkFrom(m rtnetlink.LinkMessage) domain.Link {
	l := domain.Link{
		Index:    int(m.Index),
		Up:       m.Flags&unix.IFF_UP != 0,
		Carrier:  m.Flags&unix.IFF_LOWER_UP != 0,
		Loopback: m.Flags&unix.IFF_LOOPBACK != 0,
		IsMaster: m.Flags&unix.IFF_MASTER != 0,
	}
	a := m.Attributes
	if a == nil {
		return l
	}
	l.Name = a.Name
	l.MTU = int(a.MTU)
	l.MAC = cloneMAC(a.Address)
	l.PermMAC = cloneMAC(a.PermAddress)
	if a.Carrier != nil {
		l.Carrier = *a.Carrier != 0
	}
	if a.Master != nil {
		l.MasterIndex = int(*a.Master)
	}
	if a.Alias != nil {
		l.Alias = *a.Alias
	}
	if a.Info != nil {
		l.Kind = a.Info.Kind
	}
	if slices.Contains(masterKinds, l.Kind) {
		l.IsMaster = true
	}
	return l
}

// linkReply is one link as the kernel reported it: the decoded message,
// and the MTU range the driver accepts (IFLA_MIN_MTU, IFLA_MAX_MTU), which
// rtnetlink does not decode (0 when not read).
type linkReply struct {
	rtnetlink.LinkMessage
	minMTU, maxMTU int
	device         string // IFLA_PARENT_DEV_BUS_NAME "/" IFLA_PARENT_DEV_NAME
	// vlan is a VLAN device's id, protocol and lower device, read from the
	// raw reply (nil for other kinds, or when not read): rtnetlink's VLAN
	// driver decodes IFLA_VLAN_FLAGS (a struct) as a nested attribute,
	// which stops its decoding of the attributes after IFLA_LINKINFO, and
	// the kernel puts IFLA_LINK there.
	vlan *domain.VLANState
}

// link converts the reply to the domain's view of a link.
func (r linkReply) link() domain.Link {
	l := linkFrom(r.LinkMessage)
	l.MinMTU, l.MaxMTU = r.minMTU, r.maxMTU
	l.Device = r.device
	return l
}

// replyFromRaw decodes an RTM_NEWLINK message body, MTU range and parent
// device included.
func replyFromRaw(data []byte) (linkReply, error) {
	var r linkReply
	if err := r.LinkMessage.UnmarshalBinary(data); err != nil {
		return linkReply{}, fmt.Errorf("decoding link message: %w", err)
	}
	ad, err := netlink.NewAttributeDecoder(data[unix.SizeofIfInfomsg:]) // UnmarshalBinary checked the length
	if err != nil {
		return linkReply{}, fmt.Errorf("decoding link attributes: %w", err)
	}
	var bus, dev string
	var lower int
	var vlan *domain.VLANState
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_MIN_MTU:
			r.minMTU = int(ad.Uint32())
		case unix.IFLA_MAX_MTU:
			r.maxMTU = int(ad.Uint32())
		case unix.IFLA_PARENT_DEV_NAME:
			dev = ad.String()
		case unix.IFLA_PARENT_DEV_BUS_NAME:
			bus = ad.String()
		case unix.IFLA_LINK:
			lower = int(ad.Uint32())
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				vlan = decodeVLANInfo(nad)
				return nil
			})
		}
	}
	if vlan != nil {
		vlan.LowerIndex = lower
		r.vlan = vlan
	}
	if err := ad.Err(); err != nil {
		return linkReply{}, fmt.Errorf("decoding link attributes: %w", err)
	}
	if bus != "" && dev != "" {
		r.device = bus + "/" + dev
	}
	return r, nil
}

// decodeVLANInfo reads IFLA_LINKINFO of a VLAN device: its id and
// protocol (nil when the kind is not "vlan").
func decodeVLANInfo(ad *netlink.AttributeDecoder) *domain.VLANState {
	var kind string
	var data []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_INFO_KIND:
			kind = ad.String()
		case unix.IFLA_INFO_DATA:
			data = ad.Bytes()
		}
	}
	if kind != "vlan" || data == nil {
		return nil
	}
	st := &domain.VLANState{Protocol: domain.VLAN8021Q}
	dd, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return st
	}
	for dd.Next() {
		switch dd.Type() {
		case unix.IFLA_VLAN_ID:
			st.ID = int(dd.Uint16())
		case unix.IFLA_VLAN_PROTOCOL:
			if b := dd.Bytes(); len(b) == 2 {
				st.Protocol = domain.VLANProtocol(binary.BigEndian.Uint16(b)) // network byte order
			}
		}
	}
	return st
}

func cloneMAC(b net.HardwareAddr) net.HardwareAddr {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// The domain's enums carry the kernel's numbers, so conversion is a checked
// cast; the names of the driver package (some wrong, see
// docs/kernel-notes.md) are never used.

func bondModeTo(m domain.Mode) (driver.BondMode, error) {
	if m > domain.ModeBalanceALB {
		return 0, fmt.Errorf("unknown bond mode %d", uint8(m))
	}
	return driver.BondMode(m), nil
}

func bondModeFrom(m driver.BondMode) domain.Mode { return domain.Mode(m) }

// driverOption reads (write false: *v = the field, reporting whether the
// kernel sent it) or writes (write true: the field = *v) the driver.Bond
// field of the numeric bonding option named kernel (its sysfs name). The
// driver's fields are typed, so each option needs its line here; known is
// false for an option without one.
func driverOption(b *driver.Bond, kernel string, v *uint32, write bool) (set, known bool) {
	switch kernel {
	case "miimon":
		return numField(&b.Miimon, v, write), true
	case "updelay":
		return numField(&b.UpDelay, v, write), true
	case "downdelay":
		return numField(&b.DownDelay, v, write), true
	case "arp_interval":
		return numField(&b.ArpInterval, v, write), true
	case "arp_validate":
		return numField(&b.ArpValidate, v, write), true
	case "fail_over_mac":
		return numField(&b.FailOverMac, v, write), true
	case "xmit_hash_policy":
		return numField(&b.XmitHashPolicy, v, write), true
	case "lacp_rate":
		return numField(&b.AdLacpRate, v, write), true
	case "primary_reselect":
		return numField(&b.PrimaryReselect, v, write), true
	case "min_links":
		return numField(&b.MinLinks, v, write), true
	case "ad_select":
		return numField(&b.AdSelect, v, write), true
	case "num_grat_arp":
		return numField(&b.NumPeerNotif, v, write), true
	case "packets_per_slave":
		return numField(&b.PacketsPerSlave, v, write), true
	case "all_slaves_active":
		return numField(&b.AllSlavesActive, v, write), true
	case "tlb_dynamic_lb":
		return numField(&b.TlbDynamicLb, v, write), true
	}
	return false, false
}

// numField reads or writes one numeric driver field (see driverOption);
// nil is "not sent" or "not reported". The domain's enums carry the
// kernel's numbers, so an enum converts as its number.
func numField[T ~uint8 | ~uint16 | ~uint32](p **T, v *uint32, write bool) bool {
	if write {
		t := T(*v)
		*p = &t
		return true
	}
	if *p == nil {
		return false
	}
	*v = uint32(**p)
	return true
}

// bondTo builds the IFLA_INFO_DATA of a new bond: the mode, always, and
// every requested option (the option table's bonding options); nothing
// else is sent. primary is the ifindex of the primary slave, or nil.
func bondTo(o domain.BondOptions, primary *uint32) (*driver.Bond, error) {
	mode, err := bondModeTo(o.Mode)
	if err != nil {
		return nil, err
	}
	b := &driver.Bond{Mode: mode, Primary: primary}
	for r := range domain.BondOptionRows() {
		v, ok := r.Uint(&o)
		if !ok {
			continue
		}
		if _, known := driverOption(b, r.Kernel, &v, true); !known {
			return nil, fmt.Errorf("bonding option %s: no rtnetlink attribute for it", r.Kernel)
		}
	}
	// A nil slice sends nothing; an empty one would clear the kernel's list.
	for _, ip := range o.ArpIPTargets {
		if !ip.Is4() && !ip.Is4In6() {
			return nil, fmt.Errorf("arp_ip_target %s is not an IPv4 address", ip)
		}
		b.ArpIpTargets = append(b.ArpIpTargets, net.IP(ip.Unmap().AsSlice()))
	}
	return b, nil
}

// bondFrom reads a bond's options as the kernel reports them (delays rounded
// down to a multiple of miimon). Primary is left empty: the kernel reports
// an ifindex, which the caller resolves.
func bondFrom(b *driver.Bond) domain.BondOptions {
	o := domain.BondOptions{Mode: bondModeFrom(b.Mode)}
	for r := range domain.BondOptionRows() {
		var v uint32
		if set, _ := driverOption(b, r.Kernel, &v, false); set {
			r.SetUint(&o, v)
		}
	}
	for _, ip := range b.ArpIpTargets {
		if a, ok := netip.AddrFromSlice(ip); ok {
			o.ArpIPTargets = append(o.ArpIPTargets, a.Unmap())
		}
	}
	return o
}

// miiStatusNames are IFLA_BOND_SLAVE_MII_STATUS values 0-3.
var miiStatusNames = []string{"up", "fail", "down", "back"}

// slaveFrom reads a slave's bonding state and its link's counters.
func slaveFrom(l domain.Link, s *driver.BondSlave, stats *rtnetlink.LinkStats64) domain.SlaveState {
	st := domain.SlaveState{Link: l, Counters: countersFrom(stats)}
	if s == nil {
		return st
	}
	st.Active = s.State != nil && *s.State == driver.BondStateActive
	if s.MiiStatus != nil {
		if i := int(*s.MiiStatus); i < len(miiStatusNames) {
			st.MIIStatus = miiStatusNames[i]
		} else {
			st.MIIStatus = fmt.Sprintf("unknown(%d)", i)
		}
	}
	if s.LinkFailureCount != nil {
		st.LinkFailureCount = *s.LinkFailureCount
	}
	st.PermMAC = cloneMAC(s.PermHardwareAddr)
	if s.AggregatorId != nil {
		st.AggregatorID = *s.AggregatorId
	}
	// The kernel sends both port states only for 802.3ad slaves; the
	// partner's is a u16 attribute carrying the one-octet LACPDU field.
	if s.AdActorOperPortState != nil && s.AdPartnerOperPortState != nil {
		st.LACP = &domain.SlaveLACP{
			ActorState:   domain.LACPPortState(*s.AdActorOperPortState),
			PartnerState: domain.LACPPortState(uint8(*s.AdPartnerOperPortState)),
		}
	}
	return st
}

// countersFrom reads IFLA_STATS64, which the kernel puts in every link
// message; nil when absent.
func countersFrom(s *rtnetlink.LinkStats64) *domain.LinkCounters {
	if s == nil {
		return nil
	}
	return &domain.LinkCounters{
		RxPackets: s.RXPackets, TxPackets: s.TXPackets, RxBytes: s.RXBytes, TxBytes: s.TXBytes,
		RxErrors: s.RXErrors, TxErrors: s.TXErrors, RxDropped: s.RXDropped, TxDropped: s.TXDropped,
	}
}

func adInfoFrom(ai *driver.BondAdInfo) *domain.AdInfo {
	if ai == nil {
		return nil
	}
	return &domain.AdInfo{
		AggregatorID: ai.AggregatorId,
		NumPorts:     ai.NumPorts,
		ActorKey:     ai.ActorKey,
		PartnerKey:   ai.PartnerKey,
		PartnerMAC:   cloneMAC(ai.PartnerMac),
	}
}
