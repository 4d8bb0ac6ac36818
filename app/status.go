package app

import (
	"context"

	"github.com/bondcni/bond/domain"
)

// Status reports readiness; the plugin itself needs nothing, so it asks IPAM.
func (s *Service) Status(ctx context.Context, req Request) error {
	cfg, err := s.parseConfig("STATUS", req.Config)
	if err != nil {
		return err
	}
	if cfg.IPAMType == "" {
		return nil
	}
	if err := s.d.IPAM.Status(ctx, cfg.IPAMType, req.Config, req.Invocation); err != nil {
		return domain.Errorf(domain.CodeNotAvailable, "IPAM plugin %q STATUS: %w", cfg.IPAMType, err)
	}
	return nil
}
