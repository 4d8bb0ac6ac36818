package kit

// General link helpers: look links up, create, change, move and delete
// them, through rtnetlink in the namespace given by path.

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

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

func linkByName(c *rtnetlink.Conn, name string) (rtnetlink.LinkMessage, error) {
	links, err := c.Link.List()
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l, nil
		}
	}
	return rtnetlink.LinkMessage{}, fmt.Errorf("link %q: %w", name, os.ErrNotExist)
}

// Link returns the link named name in the namespace at path.
func Link(path, name string) (rtnetlink.LinkMessage, error) {
	c, err := Dial(path)
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	defer c.Close()
	return linkByName(c, name)
}

// MustLink is Link that fails the test.
func MustLink(t testing.TB, path, name string) rtnetlink.LinkMessage {
	t.Helper()
	l, err := Link(path, name)
	if err != nil {
		t.Fatalf("link %q in %q: %v", name, path, err)
	}
	return l
}

// LinkByIndex returns the link with ifindex index in the namespace at path.
func LinkByIndex(path string, index uint32) (rtnetlink.LinkMessage, error) {
	c, err := Dial(path)
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	defer c.Close()
	return c.Link.Get(index)
}

// Links lists the names of every link in the namespace at path.
func Links(t testing.TB, path string) []string {
	t.Helper()
	c := mustDial(t, path)
	defer c.Close()
	links, err := c.Link.List()
	if err != nil {
		t.Fatalf("listing links: %v", err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attributes.Name)
	}
	return names
}

// withLink dials the namespace at ns, looks the link up by name and runs
// fn with both; the connection is closed at once (it would keep the
// namespace alive).
func withLink(ns, name string, fn func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error) error {
	c, err := Dial(ns)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := linkByName(c, name)
	if err != nil {
		return err
	}
	return fn(c, l)
}

// Veth creates a veth pair: name in nsA, peer in nsB, both with mtu (0 =
// default) and given MACs (nil = random). The peer is set up so that the
// link's carrier follows its own admin state.
func Veth(t testing.TB, nsA, name string, mac net.HardwareAddr, nsB, peer string, mtu int) {
	t.Helper()
	c := mustDial(t, nsA)
	defer c.Close()
	fb, err := os.Open(nsB)
	if err != nil {
		t.Fatalf("opening %s: %v", nsB, err)
	}
	defer fb.Close()
	fd := uint32(fb.Fd())
	peerMsg := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: peer, MTU: uint32(mtu), NetNS: rtnetlink.NetNSForFD(fd)}}
	attrs := &rtnetlink.LinkAttributes{Name: name, MTU: uint32(mtu), Address: mac,
		Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{PeerInfo: peerMsg}}}
	if err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: attrs}); err != nil {
		t.Fatalf("creating veth %s/%s: %v", name, peer, err)
	}
	SetUp(t, nsB, peer, true)
}

// Bridge creates an up bridge named name in ns and attaches links to it.
func Bridge(t testing.TB, ns, name string, ports ...string) {
	t.Helper()
	c := mustDial(t, ns)
	err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Flags: unix.IFF_UP, Change: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{Name: name, Info: &rtnetlink.LinkInfo{Kind: "bridge"}}})
	c.Close()
	if err != nil {
		t.Fatalf("creating bridge %s: %v", name, err)
	}
	for _, p := range ports {
		if err := setMaster(ns, p, name); err != nil {
			t.Fatalf("attaching %s to %s: %v", p, name, err)
		}
		SetUp(t, ns, p, true)
	}
}

// SetUp sets a link's admin state.
func SetUp(t testing.TB, ns, name string, up bool) {
	t.Helper()
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Flags: flags, Change: unix.IFF_UP})
	})
	if err != nil {
		t.Fatalf("setting %s up=%t: %v", name, up, err)
	}
}

// SetMTU sets a link's MTU.
func SetMTU(t testing.TB, ns, name string, mtu int) {
	t.Helper()
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{MTU: uint32(mtu)}})
	})
	if err != nil {
		t.Fatalf("setting %s mtu %d: %v", name, mtu, err)
	}
}

// Rename renames a (down) link in ns, as a process with NET_ADMIN in a pod
// could.
func Rename(t testing.TB, ns, name, newName string) {
	t.Helper()
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Name: newName}})
	})
	if err != nil {
		t.Fatalf("renaming %s to %s: %v", name, newName, err)
	}
}

// DeleteLink deletes a link in ns.
func DeleteLink(t testing.TB, ns, name string) {
	t.Helper()
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Delete(l.Index)
	})
	if err != nil {
		t.Fatalf("deleting %s: %v", name, err)
	}
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
	f, err := netns.Open(domain.Netns(to))
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

// AddAddress adds an address (CIDR) to a link and removes it at test end.
func AddAddress(t testing.TB, ns, name, cidr string) {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := addrChange(ns, name, p, true); err != nil {
		t.Fatalf("adding %s to %s: %v", cidr, name, err)
	}
	t.Cleanup(func() { _ = addrChange(ns, name, p, false) })
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

// AddDefaultRoute adds a default IPv4 route via gw through the link and
// removes it at test end.
func AddDefaultRoute(t testing.TB, ns, name, gw string) {
	t.Helper()
	l, err := Link(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	msg := &rtnetlink.RouteMessage{Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST,
		Attributes: rtnetlink.RouteAttributes{Gateway: net.ParseIP(gw).To4(), OutIface: l.Index}}
	c := mustDial(t, ns)
	defer c.Close()
	if err := c.Route.Add(msg); err != nil {
		t.Fatalf("adding default route via %s on %s: %v", gw, name, err)
	}
	t.Cleanup(func() {
		if c, err := Dial(ns); err == nil {
			_ = c.Route.Delete(msg)
			c.Close()
		}
	})
}

// AltName gives a link in ns an alternative name (as udev's
// AlternativeNamesPolicy does on real nodes), removed when the test ends.
// The kernel resolves a lookup by name through alternative names too.
func AltName(t testing.TB, ns, name, alt string) {
	t.Helper()
	index := MustLink(t, ns, name).Index
	prop := func(typ netlink.HeaderType) error {
		ae := netlink.NewAttributeEncoder()
		ae.Nested(unix.IFLA_PROP_LIST, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_ALT_IFNAME, alt)
			return nil
		})
		attrs, err := ae.Encode()
		if err != nil {
			return err
		}
		ifi := make([]byte, unix.SizeofIfInfomsg)
		binary.NativeEndian.PutUint32(ifi[4:], index)
		c, err := dialRoute(ns)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Acknowledge}, Data: append(ifi, attrs...)})
		return err
	}
	if err := prop(unix.RTM_NEWLINKPROP); err != nil {
		t.Fatalf("adding altname %s to %s: %v", alt, name, err)
	}
	t.Cleanup(func() { _ = prop(unix.RTM_DELLINKPROP) })
}

// Carrier reports whether a link has carrier (IFF_LOWER_UP).
func Carrier(t testing.TB, ns, name string) bool {
	t.Helper()
	return MustLink(t, ns, name).Flags&unix.IFF_LOWER_UP != 0
}

// TxPackets returns the packets a link has sent.
func TxPackets(t testing.TB, ns, name string) uint64 {
	t.Helper()
	return stats64(t, ns, name).TXPackets
}

// RxPackets returns the packets a link has received.
func RxPackets(t testing.TB, ns, name string) uint64 {
	t.Helper()
	return stats64(t, ns, name).RXPackets
}

// stats64 returns a link's counters, failing the test if the kernel
// reports none.
func stats64(t testing.TB, ns, name string) *rtnetlink.LinkStats64 {
	t.Helper()
	l := MustLink(t, ns, name)
	if l.Attributes.Stats64 == nil {
		t.Fatalf("%s: the kernel reported no statistics", name)
	}
	return l.Attributes.Stats64
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
