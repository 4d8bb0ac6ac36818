// Package wiring holds the fx pieces both binaries share: the use cases
// built from whatever driven ports a binary provides.
package wiring

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// ServiceDeps gathers the ports for app.New.
type ServiceDeps struct {
	fx.In
	Links      ports.Links
	Bonds      ports.Bonds
	Addresses  ports.Addresses
	VLANs      ports.VLANs
	Namespaces ports.Namespaces
	Props      ports.LinkProps
	VFs        ports.VFs
	IPAM       ports.IPAM
	Store      ports.Store
	Locks      ports.Locks
	Log        *slog.Logger
	// Node is the node admin's policy; the zero value (no node file) allows
	// any host link and refuses the unsafe-host-link opt-in.
	Node domain.NodePolicy `optional:"true"`
	// BeforeStep is the crash tests' hook; nil in production.
	BeforeStep func(domain.Step) `optional:"true"`
}

// NewService builds the use cases.
func NewService(d ServiceDeps) (*app.Service, error) {
	return app.New(app.Deps{
		Links: d.Links, Bonds: d.Bonds, Addresses: d.Addresses, VLANs: d.VLANs, Namespaces: d.Namespaces,
		Props: d.Props, VFs: d.VFs, IPAM: d.IPAM, Store: d.Store, Locks: d.Locks, Log: d.Log, Node: d.Node,
		BeforeStep: d.BeforeStep,
	})
}
