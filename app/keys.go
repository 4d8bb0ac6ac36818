package app

import (
	"github.com/bondcni/bond/domain"
)

// specOptions are the node's choices that Spec applies to every config.
func (s *Service) specOptions() domain.SpecOptions {
	return domain.SpecOptions{RefuseLookalikeKeys: s.d.Node.RefuseLookalikeKeys}
}

// warnKeys logs, on every verb and at the default level, each unknown key
// that looks like one of ours: the bond was built (or is read) without
// what its author meant by it. Other unknown keys belong to IPAM plugins
// (calico reads several at the top level) and are listed at debug level.
func (s *Service) warnKeys(verb string, cfg *domain.Config) {
	for _, h := range cfg.KeyHints {
		args := []any{"verb", verb, "network", cfg.Name, "key", h.Key}
		if h.Want != "" {
			args = append(args, "didYouMean", h.Want)
		}
		s.log.Warn(h.String(), args...)
	}
	if len(cfg.UnknownKeys) > len(cfg.KeyHints) {
		s.log.Debug("config keys the bond plugin does not read, passed to IPAM unchanged", "verb", verb, "keys", cfg.UnknownKeys)
	}
}

// parseConfig is ParseConfig plus the key warnings, for the verbs that
// need no spec (DEL, STATUS, GC): they never refuse a look-alike key, so a
// node switched to "unknownKeys": "error" can still tear down what it
// built before.
func (s *Service) parseConfig(verb string, data []byte) (*domain.Config, error) {
	cfg, err := domain.ParseConfig(data)
	if err == nil {
		s.warnKeys(verb, cfg)
	}
	return cfg, err
}

// parseSpec parses and validates the config for ADD and CHECK, with every
// problem at once; a missing environment is reported after the config's
// own errors, as before.
func (s *Service) parseSpec(verb string, req Request) (*domain.Config, domain.BondSpec, error) {
	cfg, spec, err := domain.ParseSpec(req.Config, req.IfName, s.specOptions())
	if cfg == nil {
		return nil, spec, err
	}
	s.warnKeys(verb, cfg)
	if domain.CodeOf(err, 0) == domain.CodeInvalidConfig {
		return nil, spec, err
	}
	if envErr := requireEnv(req); envErr != nil {
		return nil, spec, envErr
	}
	if err != nil {
		return nil, spec, err
	}
	return cfg, spec, nil
}
