package domain

import (
	"bytes"
	"fmt"
	"net"
)

// VF is what the node knows about a link that is an SR-IOV virtual
// function: where it sits (its PF, its number there, its PCI address) and
// what the PF enforces for it (the MAC the PF holds for it, trust,
// spoofchk), read from the PF in the host netns.
type VF struct {
	// PF is the PF's netdev name in the host netns, "" if the PF has no
	// netdev there (the VF facts below are then unknown).
	PF string
	// PFPCI is the PF's PCI address; two VFs of one PF share it.
	PFPCI string
	// Index is the VF's number on its PF.
	Index int
	// PCI is the VF's own PCI address.
	PCI string
	// AdminMAC is the MAC the PF holds for the VF (IFLA_VF_MAC); all zero
	// when the PF holds none.
	AdminMAC net.HardwareAddr
	Trust    bool
	SpoofChk bool
}

// HasAdminMAC reports whether the PF holds a MAC for the VF.
func (v VF) HasAdminMAC() bool {
	return len(v.AdminMAC) > 0 && !bytes.Equal(v.AdminMAC, make(net.HardwareAddr, len(v.AdminMAC)))
}

// MACLocked reports whether the PF will refuse any other MAC on the VF
// than the one it holds: the PF set the MAC administratively and does not
// trust the VF. A VF driver that took its MAC from the PF (igbvf does when
// it binds or resets the VF, which it does each time the VF goes down)
// reports that MAC as the permanent address of the VF's netdev, while a
// MAC the VF picked at random is not permanent; so a PF-held MAC equal to
// the link's permanent MAC is the administrator's. A MAC the PF set since
// the driver last took one (the SR-IOV plugin's "mac" on a VF that was
// not down in between) is not visible this way: the kernel then refuses
// at enslave, and ADD rolls back (RefusedMACMessage explains it).
func (v VF) MACLocked(l Link) bool {
	return !v.Trust && v.HasAdminMAC() && bytes.Equal(v.AdminMAC, l.PermMAC)
}

func (v VF) String() string {
	if v.PF == "" {
		return fmt.Sprintf("an SR-IOV VF (%s)", v.PCI)
	}
	return fmt.Sprintf("SR-IOV VF %d of PF %s (%s)", v.Index, v.PF, v.PCI)
}

// vfMACFix says what makes a mode that rewrites slave MACs work on a VF
// whose MAC the PF locked.
const vfMACFix = `use "mode": "active-backup" with "failOverMac": 1 (the slaves keep their MACs), or have the SR-IOV network set "trust": "on" for the VF`

// VFCheck is the outcome of CheckVFs: warnings to log (the ADD goes on)
// and the VF links that share a PF with another slave.
type VFCheck struct {
	Warnings []string
	// SharedPF maps a link to the other slave of the same PF.
	SharedPF map[string]string
}

// CheckVFs applies the SR-IOV rules to the bond's links, before anything
// changes: a mode that gives slaves a new MAC cannot take a VF whose MAC
// the PF locked; two VFs of one PF are no redundancy (one PF failure takes
// both), a warning, or an error when the config asks for distinct PFs.
// vfs maps link names to their VF facts; links absent from it are no VFs.
func CheckVFs(spec BondSpec, links []Link, vfs map[string]VF) (VFCheck, error) {
	var out VFCheck
	rewrites := spec.Options.RewritesSlaveMACs()
	byPF := map[string]string{}
	for _, l := range links {
		v, ok := vfs[l.Name]
		if !ok {
			continue
		}
		if rewrites && v.MACLocked(l) {
			return out, Errorf(CodeLinkUnusable, "links: %q is %s whose MAC %s the PF set administratively, with trust off: %s would give it another MAC, which the PF refuses; %s",
				l.Name, v, v.AdminMAC, macRewriter(spec), vfMACFix)
		}
		if v.PFPCI == "" {
			continue
		}
		if other, dup := byPF[v.PFPCI]; dup {
			if out.SharedPF == nil {
				out.SharedPF = map[string]string{}
			}
			out.SharedPF[l.Name], out.SharedPF[other] = other, l.Name
			if spec.RequireDistinctPFs {
				return out, Errorf(CodeLinkUnusable, "links: %q and %q are VFs of the same PF %s (%s), which is no redundancy, and \"requireDistinctPFs\" is true; give the bond VFs of different PFs",
					other, l.Name, v.PF, v.PFPCI)
			}
			out.Warnings = append(out.Warnings, fmt.Sprintf("links %q and %q are VFs of the same PF %s (%s): the bond does not survive a failure of that PF", other, l.Name, v.PF, v.PFPCI))
			continue
		}
		byPF[v.PFPCI] = l.Name
	}
	return out, nil
}

// macRewriter names what rewrites the slaves' MACs, for messages.
func macRewriter(spec BondSpec) string {
	o := spec.Options
	if o.Mode == ModeActiveBackup {
		fom := FailOverMacNone
		if o.FailOverMac != nil {
			fom = *o.FailOverMac
		}
		return fmt.Sprintf("mode active-backup with failOverMac %d (%s)", fom, fom)
	}
	return "mode " + o.Mode.String()
}

// RefusedMACMessage explains a kernel refusal to enslave a VF because its
// PF would not let it take the bond's MAC (EADDRNOTAVAIL from the VF
// driver), for the case CheckVFs could not see coming.
func RefusedMACMessage(spec BondSpec, name string, v VF) string {
	return fmt.Sprintf("links: %q is %s, whose PF refused it a new MAC (the PF set its MAC administratively and trust is off): %s needs it; %s",
		name, v, macRewriter(spec), vfMACFix)
}

// ErrMACRefused marks a kernel refusal to give a link a MAC
// (EADDRNOTAVAIL): with SR-IOV VFs, the PF refusing the VF a new MAC.
var ErrMACRefused = fmt.Errorf("%w: address not available", ErrKernelRefused)

// VFSlaveDrift lists the slaves among vfs whose link is not up in the
// bond (MII status other than up), naming their PF.
func VFSlaveDrift(st BondState, vfs map[string]VF) []string {
	var d []string
	for _, s := range st.Slaves {
		v, ok := vfs[s.Link.Name]
		if !ok || s.MIIStatus == "up" {
			continue
		}
		why := "its PF or the switch port behind it is down"
		if s.Link.Carrier {
			why = "it has carrier again, which the bond has not taken up yet"
		}
		d = append(d, fmt.Sprintf("slave %s, %s, has no link (MII status %s, carrier %t): %s", s.Link.Name, v, s.MIIStatus, s.Link.Carrier, why))
	}
	return d
}
