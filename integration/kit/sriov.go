package kit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// The SR-IOV lane's machine (integration/vm/run.sh with VM_SRIOV=1): two
// emulated Intel 82576 PFs, each on its own isolated hub with one virtio
// NIC, the partner side.
const (
	PF0 = "pf0"
	PF1 = "pf1"
	// PartnerOf0 and PartnerOf1 share the hub of PF0 and PF1.
	PartnerOf0 = "eth1000"
	PartnerOf1 = "eth1001"
)

// RequireSRIOV is Require plus PFs that can make VFs; in the SR-IOV lane
// (BOND_SRIOV=1) their absence fails the test instead of skipping it.
func RequireSRIOV(t testing.TB) {
	t.Helper()
	Require(t)
	if _, err := os.Stat(filepath.Join("/sys/class/net", PF0, "device/sriov_totalvfs")); err != nil {
		if os.Getenv("BOND_SRIOV") == "1" {
			t.Fatalf("SR-IOV PF required: %v", err)
		}
		t.Skipf("SR-IOV PF required (the SR-IOV lane's machine): %v", err)
	}
}

// VF is one virtual function of a PF, as the device plugin hands it out.
type VF struct {
	PF    string // the PF's netdev in the host netns
	Index int    // the VF number on its PF
	PCI   string // the VF's PCI address
}

func (v VF) String() string { return fmt.Sprintf("VF %d of %s (%s)", v.Index, v.PF, v.PCI) }

// ResetVFs gives pf exactly n fresh VFs, bound to igbvf, and returns them.
// The PF is brought up first: igbvf cannot reset a VF whose PF is down. At
// the end of the test the VFs are removed again.
func ResetVFs(t testing.TB, pf string, n int) []VF {
	t.Helper()
	SetUp(t, "", pf, true)
	numvfs := filepath.Join("/sys/class/net", pf, "device/sriov_numvfs")
	if err := os.WriteFile(numvfs, []byte("0"), 0); err != nil {
		t.Fatalf("removing the VFs of %s: %v", pf, err)
	}
	t.Cleanup(func() { _ = os.WriteFile(numvfs, []byte("0"), 0) })
	if _, err := os.Stat("/sys/module/igbvf"); err != nil {
		if out, err := exec.Command("modprobe", "igbvf").CombinedOutput(); err != nil {
			t.Fatalf("modprobe igbvf: %v: %s", err, out)
		}
	}
	if err := os.WriteFile(numvfs, []byte(strconv.Itoa(n)), 0); err != nil {
		t.Fatalf("creating %d VFs on %s: %v", n, pf, err)
	}
	var vfs []VF
	for i := range n {
		target, err := os.Readlink(filepath.Join("/sys/class/net", pf, "device", fmt.Sprintf("virtfn%d", i)))
		if err != nil {
			t.Fatalf("VF %d of %s: %v", i, pf, err)
		}
		vf := VF{PF: pf, Index: i, PCI: filepath.Base(target)}
		if _, err := vf.waitNetdev(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		vfs = append(vfs, vf)
	}
	return vfs
}

// Netdev returns the VF's netdev name while it is in the host netns.
func (v VF) Netdev() (string, error) {
	ents, err := os.ReadDir(filepath.Join("/sys/bus/pci/devices", v.PCI, "net"))
	if err != nil || len(ents) == 0 {
		return "", fmt.Errorf("%s has no netdev in the host netns: %w", v, errors.Join(err, os.ErrNotExist))
	}
	return ents[0].Name(), nil
}

// waitNetdev waits for the driver to (re)create the VF's netdev.
func (v VF) waitNetdev(timeout time.Duration) (string, error) {
	var name string
	_, ok := Eventually(timeout, func() bool {
		var err error
		name, err = v.Netdev()
		return err == nil
	})
	if !ok {
		return "", fmt.Errorf("%s: no netdev after %s", v, timeout)
	}
	return name, nil
}

// Rebind unbinds the VF from its driver and binds it again, so that the
// driver reads the MAC the PF now holds for it (igbvf keeps its old MAC
// otherwise). The VF must be in the host netns.
func (v VF) Rebind(t testing.TB) string {
	t.Helper()
	drv, err := filepath.EvalSymlinks(filepath.Join("/sys/bus/pci/devices", v.PCI, "driver"))
	if err != nil {
		t.Fatalf("%s: driver: %v", v, err)
	}
	if err := os.WriteFile(filepath.Join(drv, "unbind"), []byte(v.PCI), 0); err != nil {
		t.Fatalf("%s: unbind: %v", v, err)
	}
	if err := os.WriteFile(filepath.Join(drv, "bind"), []byte(v.PCI), 0); err != nil {
		t.Fatalf("%s: bind: %v", v, err)
	}
	name, err := v.waitNetdev(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// PFView is what the PF reports about one of its VFs (IFLA_VF_INFO).
type PFView struct {
	MAC      net.HardwareAddr // the MAC the PF holds for the VF
	SpoofChk bool
	Trust    bool
}

// View reads the PF's view of the VF from rtnetlink.
func (v VF) View(t testing.TB) PFView {
	t.Helper()
	views, err := pfViews(v.PF)
	if err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	pv, ok := views[v.Index]
	if !ok {
		t.Fatalf("%s: the PF reports no such VF", v)
	}
	return pv
}

// VFConfig is what the SR-IOV CNI plugin's config may set on the VF
// through its PF ("mac", "spoofchk", "trust"); nil leaves it alone.
type VFConfig struct {
	MAC      net.HardwareAddr
	SpoofChk *bool
	Trust    *bool
	// BindAfterMAC rebinds the VF driver after the PF set the MAC, as when
	// the MACs are set before igbvf loads: the driver then takes the MAC
	// from the PF as the netdev's permanent address. Without it the MAC is
	// set on the netdev in the pod, as the SR-IOV plugin does (the netdev
	// has it, its permanent address stays the one it had).
	BindAfterMAC bool
}

// On and Off are VFConfig values.
var (
	On  = func() *bool { b := true; return &b }()
	Off = func() *bool { b := false; return &b }()
)

// AttachedVF is a VF the SR-IOV step put into a pod.
type AttachedVF struct {
	VF
	Pod, IfName string
	hostName    string
	orig        PFView
	cfg         VFConfig
}

// AttachVF does what the SR-IOV CNI plugin's ADD does: it sets the VF's
// MAC, spoofchk and trust through the PF as cfg asks (rebinding the VF
// driver so a new MAC takes effect), moves the VF's netdev into the pod
// named ifname, and brings it up there. DetachVF undoes it.
func AttachVF(t testing.TB, vf VF, pod, ifname string, cfg VFConfig) *AttachedVF {
	t.Helper()
	a := &AttachedVF{VF: vf, Pod: pod, IfName: ifname, orig: vf.View(t), cfg: cfg}
	name, err := vf.Netdev()
	if err != nil {
		t.Fatal(err)
	}
	if err := setVF(vf.PF, vf.Index, cfg); err != nil {
		t.Fatalf("%s: setting %+v through the PF: %v", vf, cfg, err)
	}
	if cfg.MAC != nil && cfg.BindAfterMAC {
		// The driver's new netdev takes the first free ethN: give it back
		// the name it had, which the SR-IOV plugin records for its DEL.
		if n := vf.Rebind(t); n != name {
			if err := moveRename("", n, "", name); err != nil {
				t.Fatalf("%s: renaming %s back to %s: %v", vf, n, name, err)
			}
		}
	}
	a.hostName = name
	SetUp(t, "", name, false)
	if err := moveRename("", name, pod, ifname); err != nil {
		t.Fatalf("%s: moving %s into the pod as %s: %v", vf, name, ifname, err)
	}
	if cfg.MAC != nil && !cfg.BindAfterMAC {
		err := withLink(pod, ifname, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
			return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Address: cfg.MAC}})
		})
		if err != nil {
			t.Fatalf("%s: setting the MAC %s on %s: %v", vf, cfg.MAC, ifname, err)
		}
	}
	SetUp(t, pod, ifname, true)
	return a
}

// DetachVF does what the SR-IOV CNI plugin's DEL does, for each VF: it
// goes down, gets its host name back and returns to the host netns, and
// the PF-side settings are restored.
func DetachVF(t testing.TB, vfs ...*AttachedVF) {
	t.Helper()
	for _, a := range vfs {
		detachVF(t, a)
	}
}

func detachVF(t testing.TB, a *AttachedVF) {
	t.Helper()
	SetUp(t, a.Pod, a.IfName, false)
	if err := moveRename(a.Pod, a.IfName, "", a.hostName); err != nil {
		t.Fatalf("%s: returning %s to the host: %v", a.VF, a.IfName, err)
	}
	restore := VFConfig{}
	if a.cfg.SpoofChk != nil {
		restore.SpoofChk = &a.orig.SpoofChk
	}
	if a.cfg.Trust != nil {
		restore.Trust = &a.orig.Trust
	}
	if a.cfg.MAC != nil {
		restore.MAC = a.orig.MAC
	}
	if err := setVF(a.PF, a.Index, restore); err != nil {
		t.Fatalf("%s: restoring %+v through the PF: %v", a.VF, restore, err)
	}
}

// SetVF sets VF attributes through the PF, as an administrator would with
// `ip link set <pf> vf N ...`.
func SetVF(t testing.TB, vf VF, cfg VFConfig) {
	t.Helper()
	if err := setVF(vf.PF, vf.Index, cfg); err != nil {
		t.Fatalf("%s: setting %+v through the PF: %v", vf, cfg, err)
	}
}

// moveRename moves a link to another namespace under a new name in one
// message, as the SR-IOV plugin does.
func moveRename(from, name, to, newName string) error {
	f, err := netns.Open(domain.Netns(to))
	if err != nil {
		return err
	}
	defer f.Close()
	err = withLink(from, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{
			Name: newName, NetNS: rtnetlink.NetNSForFD(uint32(f.Fd())),
		}})
	})
	if err != nil {
		return err
	}
	_, err = Link(to, newName)
	return err
}

// ifinfomsg is struct ifinfomsg for a link of the given index.
func ifinfomsg(index int32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	return b
}

// setVF sets a VF's attributes through its PF: one RTM_SETLINK on the PF
// carrying IFLA_VFINFO_LIST with one IFLA_VF_INFO per attribute.
func setVF(pf string, index int, cfg VFConfig) error {
	l, err := Link("", pf)
	if err != nil {
		return err
	}
	vfIDAnd := func(rest []byte) []byte {
		b := binary.NativeEndian.AppendUint32(nil, uint32(index))
		return append(b, rest...)
	}
	flag := func(on bool) []byte {
		if on {
			return binary.NativeEndian.AppendUint32(nil, 1)
		}
		return binary.NativeEndian.AppendUint32(nil, 0)
	}
	var infos []netlink.Attribute
	if cfg.MAC != nil {
		mac := make([]byte, 32)
		copy(mac, cfg.MAC)
		infos = append(infos, netlink.Attribute{Type: unix.IFLA_VF_MAC, Data: vfIDAnd(mac)})
	}
	if cfg.SpoofChk != nil {
		infos = append(infos, netlink.Attribute{Type: unix.IFLA_VF_SPOOFCHK, Data: vfIDAnd(flag(*cfg.SpoofChk))})
	}
	if cfg.Trust != nil {
		infos = append(infos, netlink.Attribute{Type: unix.IFLA_VF_TRUST, Data: vfIDAnd(flag(*cfg.Trust))})
	}
	if len(infos) == 0 {
		return nil
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Strict: true})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, info := range infos {
		inner, err := netlink.MarshalAttributes([]netlink.Attribute{info})
		if err != nil {
			return err
		}
		vfi, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NLA_F_NESTED | unix.IFLA_VF_INFO, Data: inner}})
		if err != nil {
			return err
		}
		list, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NLA_F_NESTED | unix.IFLA_VFINFO_LIST, Data: vfi}})
		if err != nil {
			return err
		}
		_, err = c.Execute(netlink.Message{
			Header: netlink.Header{Type: unix.RTM_SETLINK, Flags: netlink.Request | netlink.Acknowledge},
			Data:   append(ifinfomsg(int32(l.Index)), list...),
		})
		if err != nil {
			return fmt.Errorf("IFLA_VF attribute %d: %w", info.Type, err)
		}
	}
	return nil
}

// pfViews reads every VF's IFLA_VF_INFO from the PF (RTEXT_FILTER_VF).
func pfViews(pf string) (map[int]PFView, error) {
	l, err := Link("", pf)
	if err != nil {
		return nil, err
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Strict: true})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	mask, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_EXT_MASK, Data: binary.NativeEndian.AppendUint32(nil, rtextFilterVF)}})
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   append(ifinfomsg(int32(l.Index)), mask...),
	})
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return nil, fmt.Errorf("unexpected RTM_GETLINK reply for %s", pf)
	}
	attrs, err := netlink.UnmarshalAttributes(msgs[0].Data[unix.SizeofIfInfomsg:])
	if err != nil {
		return nil, err
	}
	out := map[int]PFView{}
	for _, a := range attrs {
		if a.Type&^unix.NLA_F_NESTED != unix.IFLA_VFINFO_LIST {
			continue
		}
		infos, err := netlink.UnmarshalAttributes(a.Data)
		if err != nil {
			return nil, err
		}
		for _, info := range infos {
			fields, err := netlink.UnmarshalAttributes(info.Data)
			if err != nil {
				return nil, err
			}
			idx, pv := -1, PFView{}
			for _, f := range fields {
				if len(f.Data) < 8 {
					continue
				}
				vf := int(binary.NativeEndian.Uint32(f.Data))
				switch f.Type &^ unix.NLA_F_NESTED {
				case unix.IFLA_VF_MAC:
					idx, pv.MAC = vf, net.HardwareAddr(bytes.Clone(f.Data[4:10]))
				case unix.IFLA_VF_SPOOFCHK:
					pv.SpoofChk = binary.NativeEndian.Uint32(f.Data[4:]) == 1
				case unix.IFLA_VF_TRUST:
					pv.Trust = binary.NativeEndian.Uint32(f.Data[4:]) == 1
				}
			}
			if idx >= 0 {
				out[idx] = pv
			}
		}
	}
	return out, nil
}

// NewSRIOVTopology is a pod netns and a switch netns holding the virtio
// NICs that share the PFs' hubs (PartnerOf0, PartnerOf1), enslaved to a
// bridge or a partner bond carrying ServerIP: frames a VF of PF0 sends reach
// PartnerOf0. The pod's links are the VFs the caller attaches as net1, net2
// (Slaves). The NICs go back to the host, down, at the end of the test.
func NewSRIOVTopology(t testing.TB, partner Partner) *Topology {
	t.Helper()
	tp := &Topology{Pod: NewNetns(t, "pod"), Switch: NewNetns(t, "switch"), Partner: partner,
		Slaves: []string{"net1", "net2"}, Peers: []string{PartnerOf0, PartnerOf1}}
	tp.SlavesNetns = tp.Pod
	for _, nic := range tp.Peers {
		borrowNIC(t, nic, tp.Switch, func() { SetUp(t, "", nic, false) })
	}
	switch partner {
	case PartnerBridge:
		tp.Master = "br0"
		Bridge(t, tp.Switch, tp.Master, tp.Peers...)
	case PartnerLACP:
		tp.Master = "swbond"
		PartnerBond(t, tp.Switch, tp.Master, true, tp.Peers...)
	}
	if err := addrChange(tp.Switch, tp.Master, netip.PrefixFrom(ServerIP, PodIP.Bits()), true); err != nil {
		t.Fatalf("adding the server address: %v", err)
	}
	return tp
}

// rtextFilterVF asks RTM_GETLINK for the VF list (RTEXT_FILTER_VF).
const rtextFilterVF = 1 << 0
