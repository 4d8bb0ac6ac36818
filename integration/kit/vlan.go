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

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// VLAN protocols (EtherTypes of the tag).
const (
	TPID8021Q  uint16 = 0x8100
	TPID8021AD uint16 = 0x88a8
)

// VLAN creates an up VLAN device name with id and protocol (TPID8021Q or
// TPID8021AD) on lower in ns.
func VLAN(t testing.TB, ns, name, lower string, id uint16, proto uint16) {
	t.Helper()
	err := withLink(ns, lower, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		p := driver.VlanProtocol(proto)
		return c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
			Name: name, Type: l.Index,
			Info: &rtnetlink.LinkInfo{Kind: "vlan", Data: &driver.Vlan{ID: &id, Protocol: &p}},
		}})
	})
	if err != nil {
		t.Fatalf("creating VLAN %s (id %d, proto %#x) on %s: %v", name, id, proto, lower, err)
	}
	SetUp(t, ns, name, true)
}

// TagServer makes the topology's far side tagged: a VLAN device with id
// and proto on the switch's master carries the server address instead of
// the master, so the server is reachable only with that tag. It returns
// the VLAN device's name.
func (tp *Topology) TagServer(t testing.TB, id uint16, proto uint16) string {
	t.Helper()
	name := fmt.Sprintf("sw.%d", id)
	VLAN(t, tp.Switch, name, tp.Master, id, proto)
	server := netip.PrefixFrom(ServerIP, PodIP.Bits())
	DelAddr(t, tp.Switch, tp.Master, server)
	if err := addrChange(tp.Switch, name, server, true); err != nil {
		t.Fatalf("adding the server address to %s: %v", name, err)
	}
	return name
}

// SendFrames sends n Ethernet frames to dst out of link in ns with a
// packet socket, tagged with vlan and tpid (vlan 0: untagged), carrying
// the local experimental EtherType 0x88b5, which no protocol handler
// consumes: where a frame is counted on the receiving side shows which
// device the kernel delivered it to.
func SendFrames(ns, link string, dst net.HardwareAddr, vlan, tpid uint16, n int) error {
	return netns.Do(domain.Netns(ns), func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		frame := make([]byte, 0, 64)
		frame = append(frame, dst...)
		frame = append(frame, ifi.HardwareAddr...)
		if vlan != 0 {
			frame = binary.BigEndian.AppendUint16(frame, tpid)
			frame = binary.BigEndian.AppendUint16(frame, vlan&0x0fff)
		}
		frame = binary.BigEndian.AppendUint16(frame, 0x88b5)
		frame = append(frame, make([]byte, 64-len(frame))...)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(to.Addr[:], dst)
		for i := 0; i < n; i++ {
			if err := unix.Sendto(fd, frame, 0, to); err != nil {
				return fmt.Errorf("sending frame %d on %s: %w", i, link, err)
			}
		}
		return nil
	})
}

// VLANDevice is a VLAN device as the kernel reports it.
type VLANDevice struct {
	ID    uint16
	TPID  uint16
	Lower uint32 // IFLA_LINK
}

// VLANInfo reads a VLAN device's id, protocol and lower device from the raw
// reply: rtnetlink's VLAN decoder stops the decoding of the attributes
// after IFLA_LINKINFO, IFLA_LINK among them.
func VLANInfo(ns, name string) (VLANDevice, error) {
	var v VLANDevice
	var kind string
	err := rawLinkAttrs(ns, name, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case unix.IFLA_LINK:
			v.Lower = ad.Uint32()
		case unix.IFLA_LINKINFO:
			ad.Nested(func(info *netlink.AttributeDecoder) error {
				for info.Next() {
					switch info.Type() {
					case unix.IFLA_INFO_KIND:
						kind = info.String()
					case unix.IFLA_INFO_DATA:
						info.Nested(func(d *netlink.AttributeDecoder) error {
							for d.Next() {
								switch d.Type() {
								case unix.IFLA_VLAN_ID:
									v.ID = d.Uint16()
								case unix.IFLA_VLAN_PROTOCOL:
									if b := d.Bytes(); len(b) == 2 {
										v.TPID = binary.BigEndian.Uint16(b)
									}
								}
							}
							return nil
						})
					}
				}
				return nil
			})
		}
	})
	if err == nil && kind != "vlan" {
		err = fmt.Errorf("%s is a %q link, not a VLAN device", name, kind)
	}
	return v, err
}
