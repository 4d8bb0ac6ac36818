// Package sriov implements ports.VFs on the running kernel: which links
// are SR-IOV virtual functions, and what their PF enforces for them.
//
// Where a VF sits comes from sysfs: the VF's PCI device has a physfn link
// to its PF's, and the PF's virtfnN links give the VF its number. A link
// in a pod netns is only visible in a sysfs mounted from that netns, so
// that read happens on a discarded thread with a private mount namespace
// (netns.DoIsolated), as adapters/sysfs does. The PF's netdev lives in the
// host netns: its name comes from the host's sysfs, and the PF's view of
// the VF (IFLA_VF_INFO: MAC, trust, spoofchk) from one RTM_GETLINK on the
// PF with the VF list asked for (RTEXT_FILTER_VF).
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
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Reader is a ports.VFs on the running kernel.
type Reader struct{}

var _ ports.VFs = Reader{}

// place is where a VF sits, as sysfs shows it.
type place struct {
	pci, pfPCI string
	index      int
}

// VF returns the VF facts of the link, false if it is no VF.
func (Reader) VF(ctx context.Context, ns domain.Netns, name string) (domain.VF, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.VF{}, false, err
	}
	var p place
	var isVF bool
	read := func() error {
		var err error
		p, isVF, err = locate(name)
		return err
	}
	var err error
	if ns == domain.HostNetns {
		err = read()
	} else {
		err = netns.DoIsolated(ns, func() error {
			if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("mounting a sysfs for %s: %w", ns, err)
			}
			return read()
		})
	}
	if err != nil || !isVF {
		return domain.VF{}, false, err
	}
	v := domain.VF{PCI: p.pci, PFPCI: p.pfPCI, Index: p.index}
	// The PF's netdev, in the host's sysfs (this thread's mount namespace).
	ents, err := os.ReadDir(filepath.Join("/sys/bus/pci/devices", p.pfPCI, "net"))
	if err != nil || len(ents) == 0 {
		return v, true, nil // the PF has no netdev on the host: no PF view
	}
	v.PF = ents[0].Name()
	if err := pfView(v.PF, &v); err != nil {
		return v, true, fmt.Errorf("reading the PF's view of %s: %w", v, err)
	}
	return v, true, nil
}

// locate reads /sys/class/net/<name>/device: a VF's PCI device has a
// physfn link to its PF's, and the PF's virtfnN link pointing back at it
// gives its number.
func locate(name string) (place, bool, error) {
	dev := filepath.Join("/sys/class/net", name, "device")
	if _, err := os.Lstat(filepath.Join("/sys/class/net", name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return place{}, false, fmt.Errorf("reading the device of %s: %w: %w", name, domain.ErrNotFound, err)
		}
		return place{}, false, err
	}
	pf, err := filepath.EvalSymlinks(filepath.Join(dev, "physfn"))
	if errors.Is(err, fs.ErrNotExist) {
		return place{}, false, nil // no device, or a device that is no VF
	}
	if err != nil {
		return place{}, false, fmt.Errorf("reading the PF of %s: %w", name, err)
	}
	self, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return place{}, false, fmt.Errorf("reading the device of %s: %w", name, err)
	}
	p := place{pci: filepath.Base(self), pfPCI: filepath.Base(pf), index: -1}
	fns, err := filepath.Glob(filepath.Join(pf, "virtfn*"))
	if err != nil {
		return place{}, false, err
	}
	for _, fn := range fns {
		if t, err := filepath.EvalSymlinks(fn); err == nil && filepath.Base(t) == p.pci {
			p.index, err = strconv.Atoi(strings.TrimPrefix(filepath.Base(fn), "virtfn"))
			if err != nil {
				return place{}, false, fmt.Errorf("VF number of %s: %w", name, err)
			}
		}
	}
	if p.index < 0 {
		return place{}, false, fmt.Errorf("%s (%s): its PF %s lists no virtfn for it", name, p.pci, p.pfPCI)
	}
	return p, true, nil
}

const (
	rtextFilterVF  = 1 << 0
	rtextSkipStats = 1 << 3
)

// pfView fills in what the PF reports for VF v.Index: one RTM_GETLINK on
// the PF with RTEXT_FILTER_VF, decoding IFLA_VFINFO_LIST.
func pfView(pf string, v *domain.VF) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Strict: true})
	if err != nil {
		return err
	}
	defer c.Close()
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, pf)
	ae.Uint32(unix.IFLA_EXT_MASK, rtextFilterVF|rtextSkipStats)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   append(make([]byte, unix.SizeofIfInfomsg), attrs...),
	})
	if err != nil {
		return err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return fmt.Errorf("unexpected reply for %s (%d messages)", pf, len(msgs))
	}
	found, err := decodeVFInfo(msgs[0].Data[unix.SizeofIfInfomsg:], v)
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
