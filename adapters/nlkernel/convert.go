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

// conv converts a non-nil pointer between two numeric types of the same
// meaning; nil stays nil (not sent, or not reported).
func conv[D, S ~uint8 | ~uint16 | ~uint32](p *S) *D {
	if p == nil {
		return nil
	}
	v := D(*p)
	return &v
}

// bondTo builds the IFLA_INFO_DATA of a new bond: the mode, always, and
// every requested option; nothing else is sent. primary is the ifindex of
// the primary slave, or nil.
func bondTo(o domain.BondOptions, primary *uint32) (*driver.Bond, error) {
	mode, err := bondModeTo(o.Mode)
	if err != nil {
		return nil, err
	}
	b := &driver.Bond{
		Mode:            mode,
		Miimon:          conv[uint32](o.Miimon),
		UpDelay:         conv[uint32](o.UpDelay),
		DownDelay:       conv[uint32](o.DownDelay),
		ArpInterval:     conv[uint32](o.ArpInterval),
		ArpValidate:     conv[driver.BondArpValidate](o.ArpValidate),
		FailOverMac:     conv[driver.BondFailOverMac](o.FailOverMac),
		XmitHashPolicy:  conv[driver.BondXmitHashPolicy](o.XmitHashPolicy),
		AdLacpRate:      conv[driver.BondLacpRate](o.LacpRate),
		Primary:         primary,
		PrimaryReselect: conv[driver.BondPrimaryReselect](o.PrimaryReselect),
		MinLinks:        conv[uint32](o.MinLinks),
		AdSelect:        conv[driver.BondAdSelect](o.AdSelect),
		NumPeerNotif:    conv[uint8](o.NumGratArp),
		PacketsPerSlave: conv[uint32](o.PacketsPerSlave),
		AllSlavesActive: conv[uint8](o.AllSlavesActive),
		TlbDynamicLb:    conv[uint8](o.TLBDynamicLB),
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
	o := domain.BondOptions{
		Mode:            bondModeFrom(b.Mode),
		Miimon:          conv[uint32](b.Miimon),
		UpDelay:         conv[uint32](b.UpDelay),
		DownDelay:       conv[uint32](b.DownDelay),
		ArpInterval:     conv[uint32](b.ArpInterval),
		ArpValidate:     conv[domain.ArpValidate](b.ArpValidate),
		FailOverMac:     conv[domain.FailOverMac](b.FailOverMac),
		XmitHashPolicy:  conv[domain.XmitHashPolicy](b.XmitHashPolicy),
		LacpRate:        conv[domain.LacpRate](b.AdLacpRate),
		PrimaryReselect: conv[domain.PrimaryReselect](b.PrimaryReselect),
		MinLinks:        conv[uint32](b.MinLinks),
		AdSelect:        conv[domain.AdSelect](b.AdSelect),
		NumGratArp:      conv[uint8](b.NumPeerNotif),
		PacketsPerSlave: conv[uint32](b.PacketsPerSlave),
		AllSlavesActive: conv[uint8](b.AllSlavesActive),
		TLBDynamicLB:    conv[uint8](b.TlbDynamicLb),
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
