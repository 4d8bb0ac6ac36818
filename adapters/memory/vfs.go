package memory

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/bondcni/bond/domain"
)

// AddVF adds an SR-IOV VF of the PF pf (a host link name, not modelled
// further) as a physical link in ns: speed 1000/full, PCI address
// <pfPCI's bus>.<index+1>. With adminMAC set the PF holds that MAC for it
// and the VF driver took it at bind (so it is also the permanent MAC);
// otherwise the VF picked a random MAC (no permanent MAC) and the PF holds
// that. While the PF set the MAC and does not trust the VF, the VF can
// take no other MAC: enslaving it where the bond must rewrite its MAC, or
// restoring another MAC, fails EADDRNOTAVAIL, as igb/igbvf do.
func (k *Kernel) AddVF(ns domain.Netns, name, pf, pfPCI string, index int, adminMAC net.HardwareAddr, trust bool) domain.Link {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.newLink(ns, "", name, 1500, adminMAC)
	l.physical = true
	l.speed, l.duplex = 1000, "full"
	l.maxMTU = 9216
	l.pci = fmt.Sprintf("%s.%d", pfPCI[:len(pfPCI)-2], index+1)
	v := &domain.VF{PF: pf, PFPCI: pfPCI, Index: index, PCI: l.pci, AdminMAC: slices.Clone(l.mac), Trust: trust, SpoofChk: true}
	if adminMAC != nil {
		l.permMAC = slices.Clone(adminMAC)
	}
	l.vf = v
	l.vfLocked = adminMAC != nil && !trust
	return k.view(k.netns[ns], l)
}

// VF implements ports.VFs.
func (k *Kernel) VF(ctx context.Context, ns domain.Netns, name string) (domain.VF, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "VF", false); err != nil {
		return domain.VF{}, false, err
	}
	n, err := k.netnsOf(ns)
	if err != nil {
		return domain.VF{}, false, fmt.Errorf("reading the device of %s: %w", name, err)
	}
	l := n.byName(name)
	if l == nil {
		return domain.VF{}, false, fmt.Errorf("reading the device of %s: %w", name, domain.ErrNotFound)
	}
	if l.vf == nil {
		return domain.VF{}, false, nil
	}
	v := *l.vf
	v.AdminMAC = slices.Clone(v.AdminMAC)
	return v, true, nil
}

// refusesMAC is the PF's MAC lock: the error a VF driver returns when the
// PF will not let it take mac.
func refusesMAC(op string, l *link, mac net.HardwareAddr) error {
	if !l.vfLocked || bytes.Equal(mac, l.mac) {
		return nil
	}
	return refuse(op, "EADDRNOTAVAIL", "Error -99 calling set_mac_address: VF %d of %s: the PF set its MAC %s and does not trust it", l.vf.Index, l.vf.PF, l.vf.AdminMAC)
}

// ForgetPermMAC clears a link's permanent MAC (scenery: a VF whose MAC the
// PF set after its driver bound, so the lock is invisible beforehand).
func (k *Kernel) ForgetPermMAC(ns domain.Netns, name string) {
	k.update(ns, name, func(l *link) { l.permMAC = nil })
}

// SetPermMAC sets a link's permanent MAC (scenery: a VF driver that
// rewrote it when it reset the VF, as igbvf does with the MAC its PF holds).
func (k *Kernel) SetPermMAC(ns domain.Netns, name string, mac net.HardwareAddr) {
	k.update(ns, name, func(l *link) { l.permMAC = slices.Clone(mac) })
}
