package app

import (
	"context"
	"errors"

	"github.com/bondcni/bond/domain"
)

// An attachment with "vlan" puts an 8021q device named CNI_IFNAME on its
// bond (named domain.VLANBondName(CNI_IFNAME)); IPAM's addresses go on the
// VLAN device. This file holds what ADD, DEL, CHECK and the debug view do
// for it.

// bondField is the record's Bond: the bond's name when CNI_IFNAME is not it.
func bondField(spec domain.BondSpec) string {
	if spec.VLAN != nil {
		return spec.Name
	}
	return ""
}

// bondNameOf is the name of a recorded attachment's bond.
func bondNameOf(rec domain.Attachment) string {
	if rec.Bond != "" {
		return rec.Bond
	}
	return rec.ID.IfName
}

// delBondName is the bond DEL looks for: the recorded one, else the one
// the config's "vlan" implies, else CNI_IFNAME.
func delBondName(ifname string, rec domain.Attachment, haveRec bool, cfg *domain.Config, perr error) string {
	if haveRec {
		return bondNameOf(rec)
	}
	if perr == nil && cfg.VLAN != 0 {
		return domain.VLANBondName(ifname)
	}
	return ifname
}

// nameTaken reports whether a link named name exists in the pod.
func (s *Service) nameTaken(ctx context.Context, pod domain.Netns, name string) (bool, error) {
	_, err := s.d.Links.Link(ctx, pod, name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, domain.ErrNotFound):
		return false, nil
	}
	return false, wrapPort(err, "looking up %q in the pod", name)
}

// iface is the link named CNI_IFNAME: the VLAN device, or the bond.
func (r *addRun) iface() domain.Link {
	if r.spec.VLAN != nil {
		return r.vlan
	}
	return r.bond
}

// doVLAN runs the VLAN steps of an ADD and the undo of its creation.
func (r *addRun) doVLAN(ctx context.Context, st domain.Step) error {
	d, pod, v := r.s.d, r.req.Netns, r.spec.VLAN
	switch st.Kind {
	case domain.StepCreateVLAN:
		l, err := d.VLANs.CreateVLAN(ctx, pod, r.bond.Index, *v, domain.BondAlias(r.rec.ID))
		if err != nil {
			return wrapPort(err, "creating VLAN device %q (vlan %d, %s) on bond %q", v.Name, v.ID, v.Protocol, r.spec.Name)
		}
		r.vlan = l
	case domain.StepVLANUp:
		if err := d.Links.SetUp(ctx, pod, r.vlan.Index, true); err != nil {
			return wrapPort(err, "setting VLAN device %q up", v.Name)
		}
		// Read back for the result, as the bond is at bond-up.
		l, err := d.Links.LinkByIndex(ctx, pod, r.vlan.Index)
		if err != nil {
			return wrapPort(err, "reading VLAN device %q back", v.Name)
		}
		r.vlan = l
	case domain.StepDeleteVLAN:
		if err := d.Links.Delete(ctx, pod, r.vlan.Index); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return wrapPort(err, "deleting VLAN device %q", v.Name)
		}
	}
	return nil
}

// vlanDrift reads the attachment's VLAN device and compares it with the
// spec (id, protocol, MTU, that it sits on bond). vs is nil when the device
// is missing or not a VLAN; the drift then says so.
func (s *Service) vlanDrift(ctx context.Context, spec domain.BondSpec, rec domain.Attachment, bond domain.Link) (*domain.VLANState, []string, error) {
	v := spec.VLAN
	vs, err := s.d.VLANs.VLAN(ctx, rec.Netns, v.Name)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return nil, []string{"VLAN device " + v.Name + " is missing from the pod"}, nil
	case errors.Is(err, domain.ErrNotVLAN):
		return nil, []string{v.Name + " in the pod is not a VLAN device (kind \"" + vs.Link.Kind + "\")"}, nil
	case err != nil:
		return nil, nil, wrapPort(err, "reading VLAN device %q", v.Name)
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = rec.BondMTU
	}
	return &vs, domain.VLANDrift(*v, mtu, bond.Index, domain.BondAlias(rec.ID), vs), nil
}

// deleteOwnVLAN deletes the VLAN device named CNI_IFNAME before its bond,
// only if it carries this attachment's mark.
func (s *Service) deleteOwnVLAN(ctx context.Context, pod domain.Netns, id domain.AttachmentID) error {
	l, err := s.d.Links.Link(ctx, pod, id.IfName)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return wrapPort(err, "looking up %q in the pod", id.IfName)
	}
	if l.Kind != "vlan" || l.Alias != domain.BondAlias(id) {
		s.log.Warn("link in the pod is not this attachment's VLAN device; leaving it alone", "ifname", id.IfName, "kind", l.Kind, "alias", l.Alias)
		return nil
	}
	if err := s.d.Links.Delete(ctx, pod, l.Index); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return wrapPort(err, "deleting VLAN device %q", id.IfName)
	}
	return nil
}
