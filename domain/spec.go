package domain

import (
	"net"
	"net/netip"
)

// BondOptions are the kernel bonding options the plugin sets. A nil pointer
// (or empty value) means "not requested": the kernel default applies and the
// option is not sent.
type BondOptions struct {
	Mode            Mode
	Miimon          *uint32
	UpDelay         *uint32
	DownDelay       *uint32
	ArpInterval     *uint32
	ArpIPTargets    []netip.Addr
	ArpValidate     *ArpValidate
	FailOverMac     *FailOverMac
	XmitHashPolicy  *XmitHashPolicy
	LacpRate        *LacpRate
	Primary         string // slave name; the kernel stores the primary by name
	PrimaryReselect *PrimaryReselect
	MinLinks        *uint32
	AdSelect        *AdSelect
	NumGratArp      *uint8
	PacketsPerSlave *uint32
	AllSlavesActive *uint8
	TLBDynamicLB    *uint8
}

// BondSpec is a validated request for one bond inside a pod.
type BondSpec struct {
	// Name is the bond's interface name inside the pod (CNI_IFNAME).
	Name    string
	Options BondOptions
	// MTU of the bond; 0 keeps the slaves' MTU.
	MTU int
	// MAC requested for the bond (runtimeConfig "mac"); nil lets the kernel choose.
	MAC net.HardwareAddr
	// Links are the slave names, in the order given.
	Links []string
	// LinksInContainer: the links already sit in the pod netns.
	LinksInContainer bool
	// VLAN, if set, is the 8021q device named CNI_IFNAME on top of the
	// bond; Name is then the bond's derived name (VLANBondName).
	VLAN *VLANSpec
	// AllowUnsafeHostLinks is the config's opt-out of the host-link safety
	// checks; it counts only where the node's policy allows it
	// (NodePolicy.AllowUnsafeHostLinks).
	AllowUnsafeHostLinks bool
	// RequireDistinctPFs: two SR-IOV VFs of one PF are an error, not a warning.
	RequireDistinctPFs bool
}

// Netns names a network namespace by path. The empty value is the plugin's
// own (host) namespace.
type Netns string

// HostNetns is the namespace the plugin runs in.
const HostNetns Netns = ""

// Link is the observed state of one network interface.
type Link struct {
	Index int
	Name  string
	Kind  string // rtnetlink IFLA_INFO_KIND: "bond", "veth", "" for physical NICs
	MTU   int
	// MinMTU and MaxMTU are the MTU range the driver accepts (IFLA_MIN_MTU,
	// IFLA_MAX_MTU); 0 when not reported or unlimited.
	MinMTU  int
	MaxMTU  int
	MAC     net.HardwareAddr
	PermMAC net.HardwareAddr // permanent address, when the driver reports one
	// Device is the link's parent device as bus/name (IFLA_PARENT_DEV_BUS_NAME
	// and _NAME: "pci/0000:3b:02.1"), "" for a virtual link. No process can
	// give a link it creates a parent device, so it identifies a NIC.
	Device  string
	Up      bool // administratively up (IFF_UP)
	Carrier bool
	// MasterIndex is the index of the link's master (bond, bridge, team), 0 if none.
	MasterIndex int
	// Alias is the interface alias (IFLA_IFALIAS); the plugin marks its bonds with it.
	Alias string
	// IsMaster is true for links that are themselves masters (bond, bridge, team).
	IsMaster bool
	// Loopback is IFF_LOOPBACK.
	Loopback bool
}

// LinkState is the part of a link's state the plugin records before it
// changes anything and restores afterwards.
type LinkState struct {
	Name    string           `json:"name"`
	Index   int              `json:"index"`
	MTU     int              `json:"mtu"`
	MAC     net.HardwareAddr `json:"-"`
	MACText string           `json:"mac"`
	PermMAC string           `json:"permMac,omitempty"`
	// Device is Link.Device (record version 2 on; "" in older records).
	Device string `json:"device,omitempty"`
	Up     bool   `json:"up"`
	Kind   string `json:"kind,omitempty"`
	// PodIndex is a host link's ifindex in the pod after ADD moved it there
	// (the kernel renumbers it when its host ifindex is taken in the pod);
	// 0 until recorded, e.g. after an ADD that crashed before it completed.
	PodIndex int `json:"podIndex,omitempty"`
}

// StatesOf is StateOf of each link, in order: what the record keeps of the
// links before ADD changes them.
func StatesOf(links []Link) []LinkState {
	out := make([]LinkState, 0, len(links))
	for _, l := range links {
		out = append(out, StateOf(l))
	}
	return out
}

// StateOf captures what must be restored of a link.
func StateOf(l Link) LinkState {
	s := LinkState{Name: l.Name, Index: l.Index, MTU: l.MTU, MAC: l.MAC, Up: l.Up, Kind: l.Kind}
	if l.MAC != nil {
		s.MACText = l.MAC.String()
	}
	if l.PermMAC != nil {
		s.PermMAC = l.PermMAC.String()
	}
	s.Device = l.Device
	return s
}

// HardwareAddr returns the recorded MAC, parsing it after a reload.
func (s LinkState) HardwareAddr() net.HardwareAddr {
	if s.MAC != nil {
		return s.MAC
	}
	mac, err := net.ParseMAC(s.MACText)
	if err != nil {
		return nil
	}
	return mac
}

// SlaveState is one slave as the bond reports it.
type SlaveState struct {
	Link             Link
	Active           bool   // IFLA_BOND_SLAVE_STATE 0
	MIIStatus        string // up, fail, down, back
	LinkFailureCount uint32
	PermMAC          net.HardwareAddr
	AggregatorID     uint16
	// LACP is the slave's 802.3ad port state (nil outside 802.3ad, or
	// when the kernel reports none).
	LACP *SlaveLACP
	// Counters are the slave link's own traffic counters (nil when not
	// reported).
	Counters *LinkCounters
}

// SlaveLACP is an 802.3ad port's state as the bond last exchanged it: ours
// (actor) and the partner's, as the state octet of the LACPDU.
type SlaveLACP struct {
	ActorState   LACPPortState
	PartnerState LACPPortState
}

// LACPPortState is the LACPDU's port state octet (IEEE 802.1AX).
type LACPPortState uint8

// The bits of LACPPortState, lowest first.
const (
	LACPActivity        LACPPortState = 1 << iota // active LACP (else passive)
	LACPTimeout                                   // short timeout: fast rate
	LACPAggregation                               // the link may be aggregated
	LACPSynchronization                           // in sync with the partner's aggregator
	LACPCollecting                                // receiving frames
	LACPDistributing                              // sending frames
	LACPDefaulted                                 // using default partner info: no LACPDU received
	LACPExpired                                   // the partner's info timed out
)

// LACPPortStateBits names the bits of LACPPortState, in bit order.
var LACPPortStateBits = []struct {
	Bit  LACPPortState
	Name string
}{
	{LACPActivity, "activity"}, {LACPTimeout, "timeout"}, {LACPAggregation, "aggregation"},
	{LACPSynchronization, "synchronization"}, {LACPCollecting, "collecting"},
	{LACPDistributing, "distributing"}, {LACPDefaulted, "defaulted"}, {LACPExpired, "expired"},
}

// Has reports whether every bit of b is set.
func (s LACPPortState) Has(b LACPPortState) bool { return s&b == b }

// Names lists the set bits by name.
func (s LACPPortState) Names() []string {
	var out []string
	for _, b := range LACPPortStateBits {
		if s.Has(b.Bit) {
			out = append(out, b.Name)
		}
	}
	return out
}

// LinkCounters are a link's traffic counters since it was created.
type LinkCounters struct {
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
	RxErrors, TxErrors   uint64
	RxDropped, TxDropped uint64
}

// AdInfo is the bond's active 802.3ad aggregator.
type AdInfo struct {
	AggregatorID uint16
	NumPorts     uint16
	ActorKey     uint16
	PartnerKey   uint16
	PartnerMAC   net.HardwareAddr
}

// BondState is a bond read back from the kernel.
type BondState struct {
	Link        Link
	Options     BondOptions
	ActiveSlave string
	Slaves      []SlaveState
	AdInfo      *AdInfo
}

// IPConfig is one address given by IPAM.
type IPConfig struct {
	Address netip.Prefix
	Gateway netip.Addr
}

// Route is one route given by IPAM.
type Route struct {
	Dst      netip.Prefix
	GW       netip.Addr
	MTU      int
	Priority int
	Table    *int
	Scope    *int
}

// DNS is the resolver configuration from IPAM or the config.
type DNS struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// IPAMResult is what the delegated IPAM plugin returned.
type IPAMResult struct {
	IPs    []IPConfig
	Routes []Route
	DNS    DNS
}

// Interface is one interface of an ADD result.
type Interface struct {
	Name    string
	MAC     string
	MTU     int
	Sandbox string
	PciID   string
}

// Result is the outcome of ADD; the CNI adapter renders it in the
// requested cniVersion. IPs all point at Interfaces[0], the bond.
type Result struct {
	Interfaces []Interface
	IPs        []IPConfig
	Routes     []Route
	DNS        DNS
}
