package app

import (
	"context"

	"github.com/bondcni/bond/domain"
)

// checkVFs reads the SR-IOV facts of the observed links and applies the
// domain's VF rules before anything changes; it logs what only deserves a
// warning and returns the facts by link name.
func (s *Service) checkVFs(ctx context.Context, spec domain.BondSpec, where domain.Netns, links []domain.Link) (map[string]domain.VF, error) {
	if s.d.VFs == nil {
		return nil, nil
	}
	vfs := map[string]domain.VF{}
	for _, l := range links {
		v, ok, err := s.d.VFs.VF(ctx, where, l.Name)
		if err != nil {
			return nil, wrapPort(err, "links: reading the SR-IOV facts of %q", l.Name)
		}
		if ok {
			vfs[l.Name] = v
			s.log.Debug("link is an SR-IOV VF", "link", l.Name, "pf", v.PF, "vf", v.Index, "pci", v.PCI,
				"adminMAC", v.AdminMAC.String(), "trust", v.Trust, "spoofchk", v.SpoofChk)
		}
	}
	chk, err := domain.CheckVFs(spec, links, vfs)
	if err != nil {
		return nil, err
	}
	for _, w := range chk.Warnings {
		s.log.Warn(w)
	}
	return vfs, nil
}

// vfAwaitingLink reports whether l is an SR-IOV VF without carrier: a VF
// reports its speed only once its link is up (igbvf polls it from the PF),
// and the SR-IOV plugin that just brought it up does not wait for that, so
// an unknown speed there is no reason to refuse it.
func (s *Service) vfAwaitingLink(ctx context.Context, where domain.Netns, l domain.Link) bool {
	if s.d.VFs == nil || l.Carrier {
		return false
	}
	_, ok, err := s.d.VFs.VF(ctx, where, l.Name)
	return err == nil && ok
}

// vfSlaveDrift lists the bond's VF slaves that have no link: a VF loses
// carrier when its PF (or the switch port behind the PF) does, which the
// bond survives but the pod's redundancy does not.
func (s *Service) vfSlaveDrift(ctx context.Context, ns domain.Netns, st domain.BondState) []string {
	if s.d.VFs == nil {
		return nil
	}
	vfs := map[string]domain.VF{}
	for _, sl := range st.Slaves {
		if v, ok, err := s.d.VFs.VF(ctx, ns, sl.Link.Name); err == nil && ok {
			vfs[sl.Link.Name] = v
		}
	}
	return domain.VFSlaveDrift(st, vfs)
}

// inspectVFs adds the SR-IOV facts of each slave that is a VF, and which
// slaves share a PF, for the debug daemon.
func (s *Service) inspectVFs(ctx context.Context, ns domain.Netns, slaves []SlaveInspection) {
	if s.d.VFs == nil {
		return
	}
	var links []domain.Link
	for i := range slaves {
		if v, ok, err := s.d.VFs.VF(ctx, ns, slaves[i].Link.Name); err == nil && ok {
			slaves[i].VF = &v
		}
		links = append(links, slaves[i].Link)
	}
	// The same-PF rule as ADD's; the spec only matters for its MAC rule,
	// which active-backup with failOverMac active never trips.
	fom := domain.FailOverMacActive
	spec := domain.BondSpec{Options: domain.BondOptions{Mode: domain.ModeActiveBackup, FailOverMac: &fom}}
	chk, _ := domain.CheckVFs(spec, links, vfsOf(slaves))
	for i := range slaves {
		slaves[i].SharedPF = chk.SharedPF[slaves[i].Link.Name]
	}
}

// vfsOf maps the VF slaves' names to their facts.
func vfsOf(slaves []SlaveInspection) map[string]domain.VF {
	vfs := map[string]domain.VF{}
	for _, sl := range slaves {
		if sl.VF != nil {
			vfs[sl.Link.Name] = *sl.VF
		}
	}
	return vfs
}

// observed keeps the links whose names were read live (not placeholders).
func observed(links []domain.Link, names []string) []domain.Link {
	var out []domain.Link
	for _, l := range links {
		for _, n := range names {
			if l.Name == n {
				out = append(out, l)
			}
		}
	}
	return out
}
