package kit

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The addresses of every topology: the server sits on the switch side, the
// pod's bond gets PodIP from static IPAM in the tests' configs.
var (
	ServerIP = netip.MustParseAddr("10.99.0.1")
	PodIP    = netip.MustParsePrefix("10.99.0.2/24")
)

// Partner is what the far ends of the pod's links are plugged into.
type Partner int

const (
	// PartnerBridge: the peers are ports of a Linux bridge carrying the
	// server address, a switch without LACP (every mode but 802.3ad).
	PartnerBridge Partner = iota
	// PartnerLACP: the peers are slaves of an 802.3ad bond carrying the
	// server address, an LACP partner.
	PartnerLACP
)

// TopologyConfig describes a topology; the zero value is two veth links on
// a bridge.
type TopologyConfig struct {
	// Links is the number of links (default 2).
	Links int
	// Partner is the far side (default a bridge).
	Partner Partner
	// PartnerLacpSlow makes the partner bond ask for slow LACPDUs (the
	// default is fast, so the pod's side learns the partner within seconds).
	PartnerLacpSlow bool
	// MTU of both ends of every veth and of the switch side (0 = default).
	MTU int
	// SwitchMTU, if set, overrides the MTU of the switch side only.
	SwitchMTU int
	// MACs of the pod-side links (nil entries or a short list = random).
	MACs []net.HardwareAddr
}

// Topology is a pod netns whose links (veth ends) face a "switch" netns:
// the peers are plugged into Master (a bridge or a partner bond) that
// carries ServerIP.
type Topology struct {
	Pod, Switch string
	// Slaves are the pod-side link names (s1, s2, …) in Pod, or on the host
	// for the host-link variant.
	Slaves []string
	// SlavesNetns is where Slaves are before the ADD: Pod, or "" (host).
	SlavesNetns string
	// Peers are the switch-side ends (p1, p2, …), in Switch, index for index.
	Peers []string
	// Master is the bridge ("br0") or partner bond ("swbond") in Switch.
	Master  string
	Partner Partner
}

// NewTopology builds a pod and a switch namespace joined by veth pairs
// s<i>/p<i>, the p<i> in a bridge or a partner bond carrying ServerIP/24.
// Everything goes with the namespaces at the end of the test.
func NewTopology(t testing.TB, cfg TopologyConfig) *Topology {
	t.Helper()
	if cfg.Links == 0 {
		cfg.Links = 2
	}
	tp := &Topology{Pod: NewNetns(t, "pod"), Switch: NewNetns(t, "switch"), Partner: cfg.Partner}
	tp.SlavesNetns = tp.Pod
	for i := 1; i <= cfg.Links; i++ {
		s, p := fmt.Sprintf("s%d", i), fmt.Sprintf("p%d", i)
		var mac net.HardwareAddr
		if i <= len(cfg.MACs) {
			mac = cfg.MACs[i-1]
		}
		Veth(t, tp.Pod, s, mac, tp.Switch, p, cfg.MTU)
		if cfg.SwitchMTU != 0 {
			SetMTU(t, tp.Switch, p, cfg.SwitchMTU)
		}
		tp.Slaves = append(tp.Slaves, s)
		tp.Peers = append(tp.Peers, p)
	}
	switch cfg.Partner {
	case PartnerBridge:
		tp.Master = "br0"
		Bridge(t, tp.Switch, tp.Master, tp.Peers...)
	case PartnerLACP:
		tp.Master = "swbond"
		PartnerBond(t, tp.Switch, tp.Master, !cfg.PartnerLacpSlow, tp.Peers...)
	}
	if m := max(cfg.SwitchMTU, cfg.MTU); m != 0 {
		SetMTU(t, tp.Switch, tp.Master, m)
	}
	if err := addrChange(tp.Switch, tp.Master, netip.PrefixFrom(ServerIP, PodIP.Bits()), true); err != nil {
		t.Fatalf("adding the server address: %v", err)
	}
	return tp
}

// NewHostTopology is the host-link variant: the bond's links are the VM's
// virtio NIC nic and a host veth "hv1". The switch netns holds the bridge,
// with nic's hub neighbour peerNIC and hv1's peer "hp1" as ports; so frames
// the bond sends on nic cross the QEMU hub to peerNIC and the bridge. The
// NICs report no speed/duplex: rr, active-backup, xor and broadcast only.
//
// peerNIC is put back on the host, down, with its MTU, at the end of the
// test (before the namespaces go, and after the DEL of attachments made
// later in the test).
func NewHostTopology(t testing.TB, nic, peerNIC string) *Topology {
	t.Helper()
	tp := &Topology{Pod: NewNetns(t, "pod"), Switch: NewNetns(t, "switch"), Partner: PartnerBridge, Master: "br0"}
	tp.SlavesNetns = ""
	Veth(t, "", "hv1", nil, tp.Switch, "hp1", 0)
	t.Cleanup(func() {
		// Now, not when the switch netns is reaped: the next test wants hv1's name.
		if err := deleteLink(tp.Switch, "hp1"); err != nil {
			t.Errorf("deleting hp1: %v", err)
		}
	})
	orig := MustLink(t, "", peerNIC)
	borrowNIC(t, peerNIC, tp.Switch, func() {
		// As it was.
		SetUp(t, "", peerNIC, orig.Flags&unix.IFF_UP != 0)
		SetMTU(t, "", peerNIC, int(orig.Attributes.MTU))
	})
	tp.Slaves = []string{nic, "hv1"}
	tp.Peers = []string{peerNIC, "hp1"}
	Bridge(t, tp.Switch, tp.Master, tp.Peers...)
	if err := addrChange(tp.Switch, tp.Master, netip.PrefixFrom(ServerIP, PodIP.Bits()), true); err != nil {
		t.Fatalf("adding the server address: %v", err)
	}
	return tp
}

// borrowNIC moves the host NIC nic into the namespace ns for the rest of
// the test. At the end it is released from its master and moved back to
// the host, where home puts it back as the test found it.
func borrowNIC(t testing.TB, nic, ns string, home func()) {
	t.Helper()
	MoveLink(t, "", nic, ns)
	t.Cleanup(func() {
		if err := setMaster(ns, nic, ""); err != nil {
			t.Errorf("releasing %s from its master: %v", nic, err)
		}
		if err := moveLink(ns, nic, ""); err != nil {
			t.Errorf("returning %s to the host: %v", nic, err)
			return
		}
		home()
	})
}

// Server is the echo server's address.
func (tp *Topology) Server(port uint16) netip.AddrPort { return netip.AddrPortFrom(ServerIP, port) }

// SetPeerUp sets the switch-side end of link i (0-based) up or down. Down,
// the pod side loses carrier: a failure MII monitoring sees.
func (tp *Topology) SetPeerUp(t testing.TB, i int, up bool) {
	t.Helper()
	SetUp(t, tp.Switch, tp.Peers[i], up)
}

// BlockPeer disables the switch-side end of link i as a bridge port, as a
// switch port blocked by the switch: it stays up, so the pod side keeps
// carrier, but the bridge drops what arrives on it and sends it nothing. A
// dead path MII monitoring cannot see. UnblockPeer undoes it.
func (tp *Topology) BlockPeer(t testing.TB, i int) {
	t.Helper()
	if err := setBridgePortState(tp.Switch, tp.Peers[i], brStateDisabled); err != nil {
		t.Fatalf("blocking %s: %v", tp.Peers[i], err)
	}
}

// UnblockPeer puts the switch-side end of link i back to forwarding.
func (tp *Topology) UnblockPeer(t testing.TB, i int) {
	t.Helper()
	if err := setBridgePortState(tp.Switch, tp.Peers[i], brStateForwarding); err != nil {
		t.Fatalf("unblocking %s: %v", tp.Peers[i], err)
	}
}

// Bridge port states (linux/if_bridge.h). Without STP the bridge puts a
// "blocking" port straight back to forwarding; "disabled" sticks.
const (
	brStateDisabled   = 0
	brStateForwarding = 3
)

// setBridgePortState sets a bridge port's STP state as "bridge link set
// dev PORT state N" does: RTM_SETLINK for AF_BRIDGE with IFLA_PROTINFO.
// (The IFLA_INFO_SLAVE_DATA path notifies a link change, on which the
// bridge re-enables a disabled port that has carrier.)
func setBridgePortState(ns, port string, state uint8) error {
	l, err := Link(ns, port)
	if err != nil {
		return err
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(unix.IFLA_PROTINFO, func(info *netlink.AttributeEncoder) error {
		info.Uint8(unix.IFLA_BRPORT_STATE, state)
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	msg := make([]byte, unix.SizeofIfInfomsg, unix.SizeofIfInfomsg+len(attrs))
	msg[0] = unix.AF_BRIDGE
	binary.NativeEndian.PutUint32(msg[4:8], l.Index)
	c, err := dialRoute(ns)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_SETLINK, Flags: netlink.Request | netlink.Acknowledge}, Data: append(msg, attrs...)})
	return err
}

// PartnerBond creates an up 802.3ad bond (miimon 100, lacp_rate fast or
// slow) named name in ns and enslaves ports to it: the LACP partner of the
// pod's bond.
func PartnerBond(t testing.TB, ns, name string, fast bool, ports ...string) {
	t.Helper()
	c := mustDial(t, ns)
	defer c.Close()
	miimon, rate := uint32(100), driver.BondLacpRateSlow
	if fast {
		rate = driver.BondLacpRateFast
	}
	if err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
		Name: name, Info: &rtnetlink.LinkInfo{Kind: "bond", Data: &driver.Bond{Mode: driver.BondMode802_3AD, Miimon: &miimon, AdLacpRate: &rate}},
	}}); err != nil {
		t.Fatalf("creating partner bond %s: %v", name, err)
	}
	for _, p := range ports {
		SetUp(t, ns, p, false)
		if err := setMaster(ns, p, name); err != nil {
			t.Fatalf("enslaving %s to %s: %v", p, name, err)
		}
	}
	SetUp(t, ns, name, true)
}
