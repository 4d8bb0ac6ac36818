package app

import (
	"context"
	"errors"

	"github.com/bondcni/bond/domain"
)

// GC cleans every recorded attachment of this network that the runtime no
// longer lists, as a DEL would, then forwards GC to IPAM. It goes on past
// failures and reports them all.
func (s *Service) GC(ctx context.Context, req Request) error {
	cfg, err := s.parseConfig("GC", req.Config)
	if err != nil {
		return err
	}
	valid := map[domain.AttachmentID]bool{}
	for _, a := range cfg.ValidAttachments {
		valid[a] = true
	}
	recs, err := s.d.Store.List(ctx)
	if err != nil {
		return domain.Errorf(domain.CodeIOFailure, "listing attachment records: %w", err)
	}
	if bad, err := s.d.Store.Unreadable(ctx); err == nil {
		for _, b := range bad {
			s.log.Error("GC: leaving an attachment record it cannot read", "file", b.File, "err", b.Err)
		}
	}
	ident, err := domain.NetworkIdentity(req.Config)
	if err != nil {
		return domain.Errorf(domain.CodeDecode, "GC: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		if rec.Network != cfg.Name || valid[rec.ID] {
			continue
		}
		// Same name is not same network: only the GC'd network's own
		// records (the whole config, per-call keys aside) are its to clean.
		if recIdent, err := domain.NetworkIdentity(rec.Config); err != nil || recIdent != ident {
			s.log.Info("GC: leaving an attachment of another network with the same name", "containerID", rec.ID.ContainerID, "ifname", rec.ID.IfName, "network", rec.Network)
			continue
		}
		s.log.Info("GC: cleaning stale attachment", "containerID", rec.ID.ContainerID, "ifname", rec.ID.IfName)
		del := Request{Config: rec.Config}
		del.ContainerID, del.IfName, del.Netns = rec.ID.ContainerID, rec.ID.IfName, rec.Netns
		del.Path, del.Args = req.Path, req.Args
		// IPAM's own GC below frees the addresses of every unlisted attachment;
		// a DEL here would do it too, which host-local tolerates.
		if err := s.Del(ctx, del); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.IPAMType != "" {
		if err := s.d.IPAM.GC(ctx, cfg.IPAMType, req.Config, req.Invocation); err != nil {
			errs = append(errs, ipamFailed(err, cfg.IPAMType, "GC"))
		}
	}
	if len(errs) > 0 {
		return domain.Errorf(domain.CodeOf(errs[0], domain.CodeIOFailure), "GC incomplete: %w", errors.Join(errs...))
	}
	return nil
}
