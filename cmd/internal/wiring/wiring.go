// Package wiring holds the fx pieces both binaries share: the use cases
// built from whatever driven ports a binary provides.
package wiring

import (
	"fmt"
	"log/slog"
	"os"

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
	Policy     NodePolicy
	// BeforeStep is the crash tests' hook; nil in production.
	BeforeStep func(domain.Step) `optional:"true"`
}

// UnknownKeysEnv is the node-level switch for look-alike keys: "warn" (the
// default) logs them, "error" refuses them with code 7 on ADD and CHECK.
// It is the node admin's, not the config's: it comes from the environment
// the runtime execs the plugin with, and the daemon's own.
const UnknownKeysEnv = "BOND_UNKNOWN_KEYS"

// NodePolicy is what the node admin decides for every config. Err is a
// setting that could not be read: ADD and CHECK refuse to guess, DEL,
// STATUS and GC go on (a bad node setting must not keep pods Terminating).
type NodePolicy struct {
	RefuseLookalikeKeys bool
	Err                 error
}

// NodePolicyFromEnv reads the node's policy from the process environment;
// this is the one place that does.
func NodePolicyFromEnv() NodePolicy { return nodePolicy(os.Getenv) }

func nodePolicy(getenv func(string) string) NodePolicy {
	switch v := getenv(UnknownKeysEnv); v {
	case "", "warn":
		return NodePolicy{}
	case "error":
		return NodePolicy{RefuseLookalikeKeys: true}
	default:
		return NodePolicy{Err: fmt.Errorf("node setting %s=%q: want warn or error", UnknownKeysEnv, v)}
	}
}

// NewService builds the use cases.
func NewService(d ServiceDeps) (*app.Service, error) {
	return app.New(app.Deps{
		Links: d.Links, Bonds: d.Bonds, Addresses: d.Addresses, Namespaces: d.Namespaces,
		Props: d.Props, VFs: d.VFs, IPAM: d.IPAM, Store: d.Store, Locks: d.Locks, Log: d.Log, Node: d.Node,
		BeforeStep: d.BeforeStep, RefuseLookalikeKeys: d.Policy.RefuseLookalikeKeys, NodeSettingsError: d.Policy.Err,
	})
}
