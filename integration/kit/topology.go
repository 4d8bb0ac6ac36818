package kit

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

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
	MoveLink(t, "", peerNIC, tp.Switch)
	t.Cleanup(func() {
		// Off the bridge, down, home, as it was.
		if err := setMaster(tp.Switch, peerNIC, ""); err != nil {
			t.Errorf("releasing %s from the bridge: %v", peerNIC, err)
		}
		if err := moveLink(tp.Switch, peerNIC, ""); err != nil {
			t.Errorf("returning %s to the host: %v", peerNIC, err)
			return
		}
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

// DelAddr removes an IPv4 address from a link.
func DelAddr(t testing.TB, ns, link string, p netip.Prefix) {
	t.Helper()
	if err := addrChange(ns, link, p, false); err != nil {
		t.Fatalf("removing %s from %s: %v", p, link, err)
	}
}

func addrChange(ns, link string, p netip.Prefix, add bool) error {
	return withLink(ns, link, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		addr := p.Addr().Unmap()
		fam := uint8(unix.AF_INET6)
		if addr.Is4() {
			fam = unix.AF_INET
		}
		ip := net.IP(addr.AsSlice())
		m := &rtnetlink.AddressMessage{Family: fam, PrefixLength: uint8(p.Bits()), Index: l.Index,
			Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip}}
		if add {
			return c.Address.New(m)
		}
		return c.Address.Delete(m)
	})
}

func deleteLink(ns, name string) error {
	return withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Delete(l.Index)
	})
}

// setMaster plugs link into master ("" = no master).
func setMaster(ns, link, master string) error {
	return withLink(ns, link, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		var idx uint32
		if master != "" {
			m, err := linkByName(c, master)
			if err != nil {
				return err
			}
			idx = m.Index
		}
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Master: &idx}})
	})
}

// MoveLink moves link from one namespace to another ("" = the host's),
// keeping its name.
func MoveLink(t testing.TB, from, link, to string) {
	t.Helper()
	if err := moveLink(from, link, to); err != nil {
		t.Fatalf("moving %s: %v", link, err)
	}
}

func moveLink(from, link, to string) error {
	f, err := openNetns(to)
	if err != nil {
		return err
	}
	defer f.Close()
	err = withLink(from, link, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{NetNS: rtnetlink.NetNSForFD(uint32(f.Fd()))}})
	})
	if err != nil {
		return err
	}
	// The move is synchronous, but make sure before going on.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := Link(to, link); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%s did not arrive: %w", link, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openNetns opens the namespace at path, or the host's for "" (read on a
// fresh locked thread: unlocked threads are always in the host netns).
// dialRoute opens a strict rtnetlink socket in the netns at path (""
// means this process's netns as a fresh locked thread sees it).
func dialRoute(path string) (*netlink.Conn, error) {
	f, err := openNetns(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(f.Fd()), Strict: true})
}

func openNetns(path string) (*os.File, error) {
	if path != "" {
		return os.Open(path)
	}
	type res struct {
		f   *os.File
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		f, err := os.Open("/proc/thread-self/ns/net")
		ch <- res{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

// Carrier reports whether a link has carrier (IFF_LOWER_UP).
func Carrier(t testing.TB, ns, name string) bool {
	t.Helper()
	return MustLink(t, ns, name).Flags&unix.IFF_LOWER_UP != 0
}

// TxPackets returns the packets a link has sent.
func TxPackets(t testing.TB, ns, name string) uint64 {
	t.Helper()
	l := MustLink(t, ns, name)
	if l.Attributes.Stats64 == nil {
		t.Fatalf("%s: the kernel reported no statistics", name)
	}
	return l.Attributes.Stats64.TXPackets
}

// Eventually polls cond every 10 ms until it holds or timeout passes, and
// returns how long it took and whether it held.
func Eventually(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// MTULimits returns the MTU range the kernel reports for a link
// (IFLA_MIN_MTU, IFLA_MAX_MTU; 0 = no limit), read from the raw rtnetlink
// reply since the rtnetlink package does not decode them.
func MTULimits(ns, name string) (min, max uint32, err error) {
	err = rawLinkAttrs(ns, name, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case unix.IFLA_MIN_MTU:
			min = ad.Uint32()
		case unix.IFLA_MAX_MTU:
			max = ad.Uint32()
		}
	})
	return min, max, err
}

// rawLinkAttrs gets the link name in ns with one RTM_GETLINK and calls fn
// for each top-level attribute of the raw reply.
func rawLinkAttrs(ns, name string, fn func(ad *netlink.AttributeDecoder)) error {
	c, err := dialRoute(ns)
	if err != nil {
		return err
	}
	defer c.Close()
	req, err := (&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: name}}).MarshalBinary()
	if err != nil {
		return err
	}
	msgs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: req})
	if err != nil {
		return fmt.Errorf("RTM_GETLINK %s: %w", name, err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:])
		if err != nil {
			return err
		}
		for ad.Next() {
			fn(ad)
		}
		return ad.Err()
	}
	return fmt.Errorf("RTM_GETLINK %s: no link in the reply", name)
}

// AttachXDPPass loads an XDP program that passes every frame and attaches
// it (native mode) to the veth end link in ns, for the rest of the test.
// The kernel then caps the MTU of the other end, link's peer, at what fits
// a page (about 3.5 kB; IFLA_MAX_MTU says how much), like a NIC whose
// hardware takes no jumbo frames.
func AttachXDPPass(t testing.TB, ns, link string) {
	t.Helper()
	// r0 = XDP_PASS (2); exit.
	insns := []uint64{0x00000002000000b7, 0x0000000000000095}
	license := []byte("GPL\x00")
	attr := struct {
		progType, insnCnt       uint32
		insns, license          uint64
		logLevel, logSize       uint32
		logBuf                  uint64
		kernVersion, progFlags  uint32
		progName                [16]byte
		progIfindex, attachType uint32
	}{progType: unix.BPF_PROG_TYPE_XDP, insnCnt: uint32(len(insns)),
		insns: uint64(uintptr(unsafe.Pointer(&insns[0]))), license: uint64(uintptr(unsafe.Pointer(&license[0])))}
	copy(attr.progName[:], "bond_test_pass")
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	if errno != 0 {
		t.Fatalf("loading an XDP program: %v", errno)
	}
	defer unix.Close(int(fd))
	err := withLink(ns, link, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{
			XDP: &rtnetlink.LinkXDP{FD: int32(fd), ExpectedFD: -1, Flags: unix.XDP_FLAGS_DRV_MODE}}})
	})
	if err != nil {
		t.Fatalf("attaching XDP to %s: %v", link, err)
	}
}
