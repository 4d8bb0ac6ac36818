// Command bond is the CNI plugin binary. Runtimes (containerd, CRI-O,
// Multus) exec it once per verb; it wires the adapters to the use cases
// with fx and hands control to the CNI adapter.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/containernetworking/cni/pkg/types"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/bondcni/bond/adapters/cni"
	"github.com/bondcni/bond/adapters/ethtool"
	"github.com/bondcni/bond/adapters/ipam"
	"github.com/bondcni/bond/adapters/locks"
	"github.com/bondcni/bond/adapters/logging"
	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/adapters/nodefile"
	"github.com/bondcni/bond/adapters/sriov"
	"github.com/bondcni/bond/adapters/state"
	"github.com/bondcni/bond/app"
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

// Env is what the node admin configures: the runtime's environment and the
// node settings file, whose values win. The network config (tenant input)
// can change none of it.
type Env struct {
	StateDir string // BOND_STATE_DIR, default /run/bond-cni/state
	// PreviousStateDir is where an earlier version kept its records, still
	// read and cleaned: BOND_PREVIOUS_STATE_DIR, default /var/lib/cni/bond.
	PreviousStateDir string
	LogLevel         string // BOND_LOG_LEVEL, default warn (a config's logLevel can only lower it)
	LockDir          string // BOND_LOCK_DIR, default /run/bond-cni/locks
	Node             nodefile.Node
}

// loadEnv reads the environment and the node settings file
// (BOND_NODE_CONFIG, default nodefile.DefaultPath).
func loadEnv(getenv func(string) string) (Env, error) {
	env := Env{StateDir: getenv("BOND_STATE_DIR"), PreviousStateDir: getenv("BOND_PREVIOUS_STATE_DIR"),
		LogLevel: getenv("BOND_LOG_LEVEL"), LockDir: getenv("BOND_LOCK_DIR")}
	if env.PreviousStateDir == "" {
		env.PreviousStateDir = state.PreviousDir
	}
	node, err := nodefile.Load(getenv("BOND_NODE_CONFIG"))
	if err != nil {
		return env, err
	}
	env.Node = node
	for _, o := range []struct {
		dst *string
		v   string
	}{
		{&env.StateDir, node.StateDir}, {&env.LockDir, node.LockDir}, {&env.LogLevel, node.LogLevel},
	} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	// A network config's logFile may name any file in the log directory, so
	// it must hold nothing else: not the records, not the locks.
	for _, d := range []struct{ key, dir, def string }{
		{"stateDir", env.StateDir, state.DefaultDir}, {"lockDir", env.LockDir, locks.DefaultDir},
		{"previous state dir (BOND_PREVIOUS_STATE_DIR)", env.PreviousStateDir, state.PreviousDir},
	} {
		if d.dir == "" {
			d.dir = d.def
		}
		if filepath.Clean(d.dir) == filepath.Clean(node.EffectiveLogDir()) {
			return env, &nodefile.Error{Path: node.Path, Err: fmt.Errorf("logDir %s is also the %s: a network config's logFile could name a file in it; give the logs a directory of their own", node.EffectiveLogDir(), d.key)}
		}
	}
	return env, nil
}

func main() {
	os.Exit(run(os.Getenv))
}

// run executes one CNI call and returns the exit status.
func run(getenv func(string) string) int {
	env, err := loadEnv(getenv)
	if err != nil {
		// Every verb fails: a node file that cannot be read must never mean
		// permissive defaults.
		var ne *nodefile.Error
		code := uint(types.ErrIOFailure)
		if errors.As(err, &ne) {
			code = uint(ne.Code())
		}
		fmt.Fprintln(os.Stderr, "bond:", err)
		if perr := types.NewError(code, err.Error(), "").Print(); perr != nil {
			fmt.Fprintln(os.Stderr, "bond: writing the error JSON:", perr)
		}
		return 1
	}
	var e *types.Error
	if needsNothing(getenv("CNI_COMMAND")) {
		// VERSION and the about text are answered by skel alone: building
		// the graph would only add start-up time to the cheapest verb.
		e = cni.New(nil, nil, "", about()).Run()
	} else {
		warmUp(getenv("CNI_COMMAND"))
		// The one Invoke runs the CNI call; fx.New returns when it is done.
		graph := fx.New(
			Module(env),
			fx.Invoke(func(p *cni.Plugin, a *nlkernel.Adapter) {
				openPodSocket(a, getenv("CNI_NETNS"))
				e = p.Run()
				a.Close()
			}),
			fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
		)
		if err := graph.Err(); err != nil {
			e = types.NewError(types.ErrIOFailure, "bond: wiring failed", err.Error())
		}
	}
	if e != nil {
		if err := e.Print(); err != nil {
			fmt.Fprintln(os.Stderr, "bond: writing the error JSON:", err)
		}
		return 1
	}
	return 0
}

// needsNothing tells whether skel answers the verb without calling a
// handler: VERSION, and no CNI_COMMAND at all (the about text).
func needsNothing(command string) bool {
	return command == "VERSION" || command == ""
}

// Module provides the CNI plugin and everything it drives in a small, flat
// graph of three nodes: the driven adapters as the use cases' app.Deps,
// the use cases (app.New), the plugin. fx resolves each node by reflection
// at every start of a process that lives for one call (BenchmarkWiring),
// per struct field of an fx.In or fx.Out as well as per provider, so the
// adapters travel as one plain struct rather than one node each, and the
// node settings are the constructors' receiver rather than a supplied value.
func Module(env Env) fx.Option {
	return fx.Provide(env.driven, app.New, env.plugin)
}

// driven builds the driven adapters, each as the port it implements, with
// what the use cases take from the node's settings; it also gives the
// rtnetlink adapter itself (its sockets are closed when the call ends) and
// the log sink the CNI adapter adds a config's log file to.
func (e Env) driven() (app.Deps, *nlkernel.Adapter, *logging.Sink) {
	nl := nlkernel.New()
	sink := newSink(e)
	delegate := ipam.New(nil)
	delegate.PassEnv = e.Node.IPAMEnv
	return app.Deps{
		Links: nl, Bonds: nl, Addresses: nl, VLANs: nl,
		Namespaces: netns.Checker{},
		Props:      ethtool.Props{Conns: nl},
		VFs:        sriov.Reader{Conns: nl},
		IPAM:       delegate,
		Store:      state.NewMoved(e.StateDir, e.PreviousStateDir),
		Locks:      locks.New(e.LockDir),
		Log:        sink.Logger(),
		Node:       e.Node.Policy(),
		BeforeStep: testHook(),
	}, nl, sink
}

// newSink logs to stderr and, when the node settings name one, to the
// admin's log file.
func newSink(e Env) *logging.Sink {
	s := logging.New(os.Stderr, e.LogLevel)
	if f := e.Node.LogFile; f != "" {
		if err := s.AddFile(e.Node.EffectiveLogDir(), f); err != nil {
			s.Logger().Warn("node log file not used", "err", err)
		}
	}
	return s
}

func (e Env) plugin(s *app.Service, sink *logging.Sink) *cni.Plugin {
	p := cni.New(s, sink, e.Node.EffectiveLogDir(), about())
	p.Node = e.Node.Policy()
	return p
}

// about is what the plugin prints without CNI_COMMAND.
func about() string { return fmt.Sprintf("bond CNI plugin %s (commit %s)", version, commit) }
