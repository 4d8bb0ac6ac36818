package domain

import (
	"path"
	"strconv"
	"strings"
)

// NodePolicy is what the node admin decides in the node settings file and a
// network config cannot: the network config comes from whoever may create a
// NetworkAttachmentDefinition, often a tenant, while the plugin runs as root
// on a node shared by many tenants.
type NodePolicy struct {
	// Source names where the policy came from (the node settings file), for
	// the messages that tell a tenant to ask the node admin.
	Source string
	// RestrictHostLinks: only host links matching HostLinks may be moved into
	// pods. False (no node file) allows any host
	// link, as bond-cni did; true with no patterns allows none.
	RestrictHostLinks bool
	// HostLinks are interface names or path.Match globs ("ens1f*").
	HostLinks []string
	// AllowUnsafeHostLinks lets a network config's "allowUnsafeHostLinks"
	// take effect; without it the opt-in is refused.
	AllowUnsafeHostLinks bool
	// RefuseLookalikeKeys makes an unknown key that looks like a bond key
	// (a KeyHint) a code-7 error on ADD and CHECK, instead of a warning.
	RefuseLookalikeKeys bool
}

// AllowsHostLink reports whether the policy lets pods take host link name.
func (p NodePolicy) AllowsHostLink(name string) bool {
	if !p.RestrictHostLinks {
		return true
	}
	for _, pat := range p.HostLinks {
		if ok, err := path.Match(pat, name); err == nil && ok {
			return true
		}
	}
	return false
}

func (p NodePolicy) source() string {
	if p.Source == "" {
		return "the node settings file"
	}
	return p.Source
}

// Admit checks a validated spec against the node policy, before anything
// on the node is read or changed. A refusal is CodeInvalidConfig: the config
// asks for something this node does not allow, and the message says that
// only the node admin can change it.
func (p NodePolicy) Admit(spec BondSpec) error {
	if spec.AllowUnsafeHostLinks && !spec.LinksInContainer && !p.AllowUnsafeHostLinks {
		return Errorf(CodeInvalidConfig, `allowUnsafeHostLinks: true is not allowed on this node; allowed: false (the node admin must set "allowUnsafeHostLinks": true in %s to let network configs opt in)`, p.source())
	}
	if spec.LinksInContainer {
		return nil
	}
	var refused []string
	for _, l := range spec.Links {
		if !p.AllowsHostLink(l) {
			refused = append(refused, strconv.Quote(l))
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return Errorf(CodeInvalidConfig, "links: host link %s is not one the node admin lets pods take; allowed: %s (set by \"hostLinks\" in %s)", strings.Join(refused, ", "), p.allowed(), p.source())
}

// AdmitHostLink checks the host link the kernel found for the name a
// config wrote. The kernel also finds a link by any of its alternative
// names (udev gives real NICs several), so the list must hold for the
// link's own name: an altname that matches it proves nothing.
func (p NodePolicy) AdmitHostLink(asked, name string) error {
	if p.AllowsHostLink(name) {
		return nil
	}
	return Errorf(CodeInvalidConfig, "links: %q is host link %q, which is not one the node admin lets pods take; allowed: %s (set by \"hostLinks\" in %s, matched against interface names, not alternative names)", asked, name, p.allowed(), p.source())
}

func (p NodePolicy) allowed() string {
	if len(p.HostLinks) == 0 {
		return "none"
	}
	q := make([]string, len(p.HostLinks))
	for i, h := range p.HostLinks {
		q[i] = strconv.Quote(h)
	}
	return strings.Join(q, ", ")
}
