// Package sriov implements ports.VFs on the running kernel: which links
// are SR-IOV virtual functions, and what their PF enforces for them.
//
// One RTM_GETLINK in the link's netns (on an adapters/nlsock socket opened
// inside it) gives the link's parent device (IFLA_PARENT_DEV_NAME and
// _BUS_NAME): a PCI device for a NIC's netdev, none for a veth. PCI
// devices are not namespaced, so the host's sysfs tells the rest without
// mounting anything: a VF's device has a physfn link to its PF's, the PF's
// virtfnN links give the VF its number, and the PF's netdev in the host
// netns is under its device's net/. The PF's view of the VF (IFLA_VF_INFO:
// MAC, trust, spoofchk) comes from one RTM_GETLINK on the PF with the VF
// list asked for (RTEXT_FILTER_VF).
package sriov

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/nlsock"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Reader is a ports.VFs on the running kernel.
type Reader struct {
	// Conns, if set, lends the rtnetlink connection of a namespace (the
	// CNI binary's rtnetlink adapter, which keeps one per namespace);
	// without it each lookup opens and closes its own.
	Conns nlsock.Conns
}

var _ ports.VFs = Reader{}

// pciDevices is where the host's sysfs lists PCI devices.
const pciDevices = "/sys/bus/pci/devices"

// VF returns the VF facts of the link, false if it is no VF.
func (r Reader) VF(ctx context.Context, ns domain.Netns, name string) (domain.VF, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.VF{}, false, err
	}
	bus, dev, err := r.parentDevice(ns, name)
	if err != nil || bus != "pci" {
		return domain.VF{}, false, err
	}
	pf, err := filepath.EvalSymlinks(filepath.Join(pciDevices, dev, "physfn"))
	if errors.Is(err, fs.ErrNotExist) {
		return domain.VF{}, false, nil // a PCI function that is no VF
	}
	if err != nil {
		return domain.VF{}, false, fmt.Errorf("reading the PF of %s (%s): %w", name, dev, err)
	}
	v := domain.VF{PCI: dev, PFPCI: filepath.Base(pf), Index: -1}
	fns, err := filepath.Glob(filepath.Join(pf, "virtfn*"))
	if err != nil {
		return domain.VF{}, false, err
	}
	for _, fn := range fns {
		if t, err := filepath.EvalSymlinks(fn); err == nil && filepath.Base(t) == dev {
			if v.Index, err = strconv.Atoi(strings.TrimPrefix(filepath.Base(fn), "virtfn")); err != nil {
				return domain.VF{}, false, fmt.Errorf("VF number of %s: %w", name, err)
			}
		}
	}
	if v.Index < 0 {
		return domain.VF{}, false, fmt.Errorf("%s (%s): its PF %s lists no virtfn for it", name, dev, v.PFPCI)
	}
	ents, err := os.ReadDir(filepath.Join(pf, "net"))
	if err != nil || len(ents) == 0 {
		return v, true, nil // the PF has no netdev on the host: no PF view
	}
	v.PF = ents[0].Name()
	if err := pfView(v.PF, &v); err != nil {
		return v, true, fmt.Errorf("reading the PF's view of %s: %w", v, err)
	}
	return v, true, nil
}

// parentDevice asks the link's netns for the link's parent device: its
// bus ("pci") and name (the PCI address); "" for a virtual link.
func (r Reader) parentDevice(ns domain.Netns, name string) (bus, dev string, err error) {
	var c *netlink.Conn
	if r.Conns != nil {
		c, err = r.Conns.NetlinkConn(ns)
	} else if c, err = nlsock.Dial(ns); err == nil {
		defer c.Close()
	}
	if err != nil {
		return "", "", fmt.Errorf("opening rtnetlink in %s: %w", netns.Name(ns), err)
	}
	attrs, err := getLink(c, name, rtextSkipStats)
	if errors.Is(err, unix.ENODEV) {
		return "", "", fmt.Errorf("reading the device of %s in %s: %w: %w", name, netns.Name(ns), domain.ErrNotFound, err)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the device of %s in %s: %w", name, netns.Name(ns), err)
	}
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return "", "", err
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_PARENT_DEV_NAME:
			dev = ad.String()
		case unix.IFLA_PARENT_DEV_BUS_NAME:
			bus = ad.String()
		}
	}
	return bus, dev, ad.Err()
}

// getLink sends one RTM_GETLINK by name and returns the reply's
// attributes.
func getLink(c *netlink.Conn, name string, extMask uint32) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	ae.Uint32(unix.IFLA_EXT_MASK, extMask)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   append(make([]byte, unix.SizeofIfInfomsg), attrs...),
	})
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return nil, fmt.Errorf("unexpected reply for %s (%d messages)", name, len(msgs))
	}
	return msgs[0].Data[unix.SizeofIfInfomsg:], nil
}

const (
	rtextFilterVF  = 1 << 0
	rtextSkipStats = 1 << 3
)

// pfView fills in what the PF reports for VF v.Index: one RTM_GETLINK on
// the PF in the host netns with RTEXT_FILTER_VF, decoding IFLA_VFINFO_LIST.
//
// This reply lists every VF of the PF and can outgrow nlsock's fixed
// buffer, so it goes through the library's socket, which sizes its buffer
// to each reply; the host netns needs no thread switch either way.
func pfView(pf string, v *domain.VF) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Strict: true})
	if err != nil {
		return err
	}
	defer c.Close()
	attrs, err := getLink(c, pf, rtextFilterVF|rtextSkipStats)
	if err != nil {
		return err
	}
	found, err := decodeVFInfo(attrs, v)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s reports no VF %d", pf, v.Index)
	}
	return nil
}

// decodeVFInfo finds VF v.Index in a link message's attributes and fills
// in its MAC, trust and spoofchk. Each IFLA_VF_* struct starts with the
// VF number (u32); the MAC field is 32 bytes, of which a MAC uses 6.
func decodeVFInfo(b []byte, v *domain.VF) (bool, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return false, err
	}
	found := false
	for ad.Next() {
		if ad.Type() != unix.IFLA_VFINFO_LIST {
			continue
		}
		ad.Nested(func(list *netlink.AttributeDecoder) error {
			for list.Next() {
				list.Nested(func(info *netlink.AttributeDecoder) error {
					var mac net.HardwareAddr
					var trust, spoof, vf = false, false, -1
					for info.Next() {
						d := info.Bytes()
						if len(d) < 8 {
							continue
						}
						n := int(binary.NativeEndian.Uint32(d))
						switch info.Type() {
						case unix.IFLA_VF_MAC:
							vf, mac = n, net.HardwareAddr(bytes.Clone(d[4:10]))
						case unix.IFLA_VF_TRUST:
							trust = binary.NativeEndian.Uint32(d[4:]) == 1
						case unix.IFLA_VF_SPOOFCHK:
							spoof = binary.NativeEndian.Uint32(d[4:]) == 1
						}
					}
					if vf == v.Index {
						v.AdminMAC, v.Trust, v.SpoofChk, found = mac, trust, spoof, true
					}
					return nil
				})
			}
			return nil
		})
	}
	return found, ad.Err()
}
