package app

import (
	"context"
	"errors"
	"strings"

	"github.com/bondcni/bond/domain"
)

// Check compares the live bond with the config, the record and prevResult,
// then delegates CHECK to IPAM.
func (s *Service) Check(ctx context.Context, req Request) error {
	cfg, spec, err := s.parseSpec("CHECK", req)
	if err != nil {
		return err
	}
	if err := s.checkPodNetns(ctx, req.Netns); err != nil {
		return err
	}
	rec, err := s.d.Store.Load(ctx, req.id())
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Errorf(domain.CodeCheckFailed, "no attachment recorded for %s/%s; was ADD run?", req.ContainerID, req.IfName)
	}
	if err != nil {
		return domain.Errorf(domain.CodeStateCorrupt, "reading attachment record: %w", err)
	}
	drift, err := s.Drift(ctx, spec, rec, cfg.PrevResult)
	if err != nil {
		return err
	}
	if len(drift) > 0 {
		return domain.Errorf(domain.CodeCheckFailed, "bond %q drifted from its config: %s", req.IfName, strings.Join(drift, "; "))
	}
	if cfg.IPAMType != "" {
		if err := s.d.IPAM.Check(ctx, cfg.IPAMType, req.Config, req.Invocation); err != nil {
			return ipamFailed(err, cfg.IPAMType, "CHECK")
		}
	}
	return nil
}

// Drift reads the bond of a recorded attachment and lists how it differs
// from spec and from the addresses of prevResult (or the record).
func (s *Service) Drift(ctx context.Context, spec domain.BondSpec, rec domain.Attachment, prevResult []byte) ([]string, error) {
	st, err := s.d.Bonds.Bond(ctx, rec.Netns, spec.Name)
	if errors.Is(err, domain.ErrNotFound) {
		return []string{"bond " + spec.Name + " is missing from the pod"}, nil
	}
	if errors.Is(err, domain.ErrNotBond) {
		return []string{spec.Name + " in the pod is not a bond"}, nil
	}
	if err != nil {
		return nil, wrapPort(err, "reading bond %q", spec.Name)
	}
	iface := st.Link.Index
	var vdrift []string
	if spec.VLAN != nil {
		vs, d, err := s.vlanDrift(ctx, spec, rec, st.Link)
		if err != nil {
			return nil, err
		}
		vdrift = d
		if vs == nil {
			// No VLAN device, so none of its addresses either.
			bd, err := driftOf(spec, rec, st, nil, prevResult)
			if err != nil {
				return nil, err
			}
			bd = append(bd, s.vfSlaveDrift(ctx, rec.Netns, st)...)
			return append(bd, vdrift...), nil
		}
		iface = vs.Link.Index
	}
	addrs, err := s.d.Addresses.Addresses(ctx, rec.Netns, iface)
	if err != nil {
		return nil, wrapPort(err, "listing addresses of %q", spec.IfName())
	}
	d, err := driftOf(spec, rec, st, addrs, prevResult)
	if err != nil {
		return nil, err
	}
	d = append(d, s.vfSlaveDrift(ctx, rec.Netns, st)...)
	return append(d, vdrift...), nil
}

// driftOf compares an already-read bond and its addresses with the spec,
// the record and prevResult (or the recorded addresses without one).
func driftOf(spec domain.BondSpec, rec domain.Attachment, st domain.BondState, addrs []domain.IPConfig, prevResult []byte) ([]string, error) {
	if st.Link.Alias != domain.BondAlias(rec.ID) {
		return []string{"link " + spec.Name + " is not the bond this attachment created"}, nil
	}
	want, err := domain.PrevResultIPs(prevResult)
	if err != nil {
		return nil, err
	}
	if want == nil {
		want = rec.IPs
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = rec.BondMTU
	}
	return domain.Drift(spec, mtu, st, addrs, want), nil
}
