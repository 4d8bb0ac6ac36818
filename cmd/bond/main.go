// Command bond is the CNI plugin binary. Runtimes (containerd, CRI-O,
// Multus) exec it once per verb; it wires the adapters to the use cases
// with fx and hands control to the CNI adapter.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/containernetworking/cni/pkg/types"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/bondcni/bond/adapters/cni"
	"github.com/bondcni/bond/adapters/ipam"
	"github.com/bondcni/bond/adapters/locks"
	"github.com/bondcni/bond/adapters/logging"
	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/rtnl"
	"github.com/bondcni/bond/adapters/state"
	"github.com/bondcni/bond/adapters/sysfs"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/cmd/internal/wiring"
	"github.com/bondcni/bond/ports"
)

// Set by the linker (make build, make release).
var (
	version = "dev"
	commit  = "unknown"
)

// The main goroutine stays on the main thread. Namespace work happens on
// other, locked threads (adapters/netns) or through per-namespace netlink
// sockets; a main thread that strayed into a pod netns could never be
// discarded by the Go runtime.
func init() { runtime.LockOSThread() }

// Env is what the process environment configures.
type Env struct {
	StateDir string // BOND_STATE_DIR, default /var/lib/cni/bond
	LogLevel string // BOND_LOG_LEVEL, default warn (the config's logLevel wins)
	LockDir  string // BOND_LOCK_DIR, default /run/bond-cni/locks
}

func main() {
	env := Env{StateDir: os.Getenv("BOND_STATE_DIR"), LogLevel: os.Getenv("BOND_LOG_LEVEL"), LockDir: os.Getenv("BOND_LOCK_DIR")}
	// The one Invoke runs the CNI call; fx.New returns when it is done.
	var e *types.Error
	app := fx.New(
		Module(env),
		fx.Invoke(func(p *cni.Plugin, a *rtnl.Adapter) {
			e = p.Run()
			a.Close()
		}),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
	)
	if err := app.Err(); err != nil {
		e = types.NewError(types.ErrIOFailure, "bond: wiring failed", err.Error())
	}
	if e != nil {
		if err := e.Print(); err != nil {
			fmt.Fprintln(os.Stderr, "bond: writing the error JSON:", err)
		}
		os.Exit(1)
	}
}

// Module provides the CNI plugin and everything it drives, as flat
// providers (no nested fx.Module scopes: each costs start-up time in a
// process that lives for one call).
func Module(env Env) fx.Option {
	return fx.Options(
		fx.Supply(env),
		fx.Provide(
			newSink,
			rtnl.New,
			func(a *rtnl.Adapter) ports.Links { return a },
			func(a *rtnl.Adapter) ports.Bonds { return a },
			func(a *rtnl.Adapter) ports.Addresses { return a },
			fx.Annotate(func() netns.Checker { return netns.Checker{} }, fx.As(new(ports.Namespaces))),
			fx.Annotate(func() sysfs.Props { return sysfs.Props{} }, fx.As(new(ports.LinkProps))),
			fx.Annotate(func() *ipam.Delegate { return ipam.New(nil) }, fx.As(new(ports.IPAM))),
			fx.Annotate(func(e Env) *state.Store { return state.New(e.StateDir) }, fx.As(new(ports.Store))),
			fx.Annotate(func(e Env) *locks.Files { return locks.New(e.LockDir) }, fx.As(new(ports.Locks))),
			newLogger,
			testHook,
			wiring.NewService,
			newPlugin,
		),
	)
}

func newSink(e Env) *logging.Sink { return logging.New(os.Stderr, e.LogLevel) }

func newLogger(s *logging.Sink) *slog.Logger { return s.Logger() }

func newPlugin(s *app.Service, sink *logging.Sink) *cni.Plugin {
	return cni.New(s, sink, fmt.Sprintf("bond CNI plugin %s (commit %s)", version, commit))
}
