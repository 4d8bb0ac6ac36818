// Command bond-debugd is the bond CNI plugin's debug daemon: a read-only
// HTTP server on a loopback address that shows every bond the plugin built
// in the pods of this node (JSON API, Prometheus metrics, an HTML page).
// It drives the same use cases (app.Service) and the same kernel and state
// adapters as the plugin binary, wrapped read-only; it takes no lock the
// plugin needs and holds no socket that would keep a pod's netns alive.
//
//	bond-debugd [--listen 127.0.0.1:9487] [--state-dir /run/bond-cni/state] [--log-level info]
//	            [--node-name NAME] [--textfile /var/lib/node_exporter/textfile_collector/bondcni.prom]
//	bond-debugd --version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/bondcni/bond/adapters/ethtool"
	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/adapters/httpdebug/readonly"
	"github.com/bondcni/bond/adapters/logging"
	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/adapters/nodefile"
	"github.com/bondcni/bond/adapters/sriov"
	"github.com/bondcni/bond/adapters/state"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// Set by the linker: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// As in cmd/bond: namespace work happens on other, locked threads
// (adapters/netns) or through per-namespace sockets; the main thread never
// strays into a pod netns.
func init() { runtime.LockOSThread() }

// Options are the daemon's flags.
type Options struct {
	Listen   string // loopback address and port
	StateDir string // the plugin's attachment records
	// PreviousStateDir is where an earlier plugin version kept them.
	PreviousStateDir string
	LogLevel         string
	// NodeConfig is the plugin's node settings file; Validate applies its
	// policy (host-link allowlist, unsafe-link opt-in) as ADD would.
	NodeConfig string
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration
	// NodeName is shown on the page; default $NODE_NAME (the DaemonSet
	// sets it from spec.nodeName), else the host name.
	NodeName string
	// Textfile, if set, is the node_exporter textfile-collector file the
	// metrics are written to every TextfileInterval.
	Textfile         string
	TextfileInterval time.Duration
}

// parseFlags reads the command line; env supplies BOND_STATE_DIR.
func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (Options, bool, error) {
	fs := flag.NewFlagSet("bond-debugd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{}
	defState := getenv("BOND_STATE_DIR")
	if defState == "" {
		defState = state.DefaultDir
	}
	fs.StringVar(&o.Listen, "listen", httpdebug.DefaultListen, "loopback address to listen on: 127.0.0.1:PORT or [::1]:PORT (any other address is refused)")
	fs.StringVar(&o.StateDir, "state-dir", defState, "directory of the plugin's attachment records (the plugin's BOND_STATE_DIR)")
	defPrev := getenv("BOND_PREVIOUS_STATE_DIR")
	if defPrev == "" {
		defPrev = state.PreviousDir
	}
	fs.StringVar(&o.PreviousStateDir, "previous-state-dir", defPrev, "where earlier plugin versions kept their records, still read (the plugin's BOND_PREVIOUS_STATE_DIR; empty: none)")
	defNode := getenv("BOND_NODE_CONFIG")
	if defNode == "" {
		defNode = nodefile.DefaultPath
	}
	fs.StringVar(&o.NodeConfig, "node-config", defNode, "the plugin's node settings file (the plugin's BOND_NODE_CONFIG)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error (logs go to stderr)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for requests in flight")
	defName := getenv("NODE_NAME")
	if defName == "" {
		defName, _ = os.Hostname()
	}
	fs.StringVar(&o.NodeName, "node-name", defName, "node name shown on the page (default $NODE_NAME, else the host name)")
	fs.StringVar(&o.Textfile, "textfile", "", "also write the metrics to this file for node_exporter's textfile collector (a *.prom path in its --collector.textfile.directory), atomically, every --textfile-interval")
	fs.DurationVar(&o.TextfileInterval, "textfile-interval", 30*time.Second, "how often --textfile is rewritten")
	showVersion := fs.Bool("version", false, "print the version and commit, then exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bond-debugd [flags]\n\nRead-only debug HTTP server for the bond CNI plugin, on loopback only.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *showVersion {
		return o, true, nil
	}
	if o.Textfile != "" {
		if !strings.HasSuffix(o.Textfile, ".prom") {
			return o, false, fmt.Errorf("--textfile %q: node_exporter reads only files named *.prom", o.Textfile)
		}
		if o.TextfileInterval < time.Second {
			return o, false, fmt.Errorf("--textfile-interval %v: want at least 1s", o.TextfileInterval)
		}
	}
	return o, false, httpdebug.CheckLoopback(o.Listen)
}

func versionString() string {
	return fmt.Sprintf("bond-debugd %s (commit %s, %s)", version, commit, runtime.Version())
}

func main() {
	o, showVersion, err := parseFlags(os.Args[1:], os.Stderr, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bond-debugd:", err)
		os.Exit(2)
	}
	if showVersion {
		fmt.Println(versionString())
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bond-debugd:", err)
		os.Exit(1)
	}
}

// run starts the daemon and serves until SIGTERM or SIGINT.
func run(o Options) error {
	fxApp := fx.New(
		Module(o),
		fx.Invoke(func(*Daemon) {}),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
	)
	if err := fxApp.Err(); err != nil {
		return fmt.Errorf("wiring failed: %w", err)
	}
	// Catch the signals before anything starts, so that a SIGTERM right
	// after start-up is a graceful stop too, never the default death.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	startCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := fxApp.Start(startCtx); err != nil {
		return err
	}
	var sig os.Signal
	select {
	case sig = <-sigs:
	case s := <-fxApp.Wait():
		sig = s.Signal
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), o.ShutdownTimeout+5*time.Second)
	defer cancelStop()
	if err := fxApp.Stop(stopCtx); err != nil {
		return fmt.Errorf("shutting down after %v: %w", sig, err)
	}
	return nil
}

// Module provides the daemon and everything it drives: the plugin's own
// adapters (nlkernel, netns, ethtool, state) behind read-only wrappers, the same
// app.Service, and the HTTP adapter. Every constructor is a plain function
// usable without fx.
func Module(o Options) fx.Option {
	return fx.Options(
		fx.Supply(o),
		fx.Provide(
			newLogger,
			nlkernel.New,
			newKernel,
			newNodePolicy,
			newDeps,
			app.New,
			NewServer,
			NewDaemon,
		),
	)
}

// newDeps gives the use cases the read-only adapters, each as the port it
// implements: nothing the daemon serves can change the node.
func newDeps(o Options, k *readonly.Kernel, log *slog.Logger, node domain.NodePolicy) app.Deps {
	return app.Deps{
		Links: k, Bonds: k, Addresses: k, VLANs: k,
		Namespaces: netns.Checker{},
		Props:      ethtool.Props{},
		VFs:        sriov.Reader{},
		IPAM:       readonly.IPAM{},
		Store:      readonly.Store{S: state.NewMoved(o.StateDir, o.PreviousStateDir)},
		Locks:      readonly.Locks{},
		Log:        log,
		Node:       node,
	}
}

// newNodePolicy reads the node settings file; a malformed one stops the
// daemon at start, as it fails every plugin call.
func newNodePolicy(o Options) (domain.NodePolicy, error) {
	n, err := nodefile.Load(o.NodeConfig)
	if err != nil {
		return domain.NodePolicy{}, err
	}
	return n.Policy(), nil
}

func newLogger(o Options) *slog.Logger {
	return slog.New(logging.New(os.Stderr, o.LogLevel).Handler()).With("daemon", "bond-debugd")
}

// newKernel wraps the rtnetlink adapter read-only; it closes each pod
// netns's socket once no read uses it, so the daemon never keeps a dead
// pod's netns (and its NICs) alive.
func newKernel(a *nlkernel.Adapter) *readonly.Kernel { return readonly.NewKernel(a) }

// NewServer is the HTTP adapter over the service's read-only use cases.
func NewServer(o Options, s *app.Service, log *slog.Logger) *httpdebug.Server {
	return httpdebug.New(s, httpdebug.Options{Version: version, Commit: commit, NodeName: o.NodeName, Log: log})
}

// Daemon serves the HTTP adapter on the loopback listener.
type Daemon struct {
	o      Options
	hs     *httpdebug.Server
	srv    *http.Server
	log    *slog.Logger
	ln     net.Listener
	done   chan error
	kernel *nlkernel.Adapter
	// stopText ends the textfile writer and removes its file.
	stopText func()
}

// NewDaemon builds the daemon; with an fx.Lifecycle it starts and stops
// with it, otherwise call Start and Stop.
func NewDaemon(o Options, s *httpdebug.Server, a *nlkernel.Adapter, log *slog.Logger, lc fx.Lifecycle) *Daemon {
	d := &Daemon{o: o, hs: s, srv: s.HTTPServer(), log: log, kernel: a}
	if lc != nil {
		lc.Append(fx.Hook{OnStart: d.Start, OnStop: d.Stop})
	}
	return d
}

// Start listens (on loopback only) and serves in the background.
func (d *Daemon) Start(context.Context) error {
	ln, err := httpdebug.Listen(d.o.Listen)
	if err != nil {
		return err
	}
	d.ln, d.done = ln, make(chan error, 1)
	d.log.Info("bond-debugd listening", "addr", "http://"+ln.Addr().String()+"/", "stateDir", d.o.StateDir, "node", d.o.NodeName, "version", version, "commit", commit)
	go func() { d.done <- d.srv.Serve(ln) }()
	if d.o.Textfile != "" {
		d.stopText = d.hs.StartTextfile(d.o.Textfile, d.o.TextfileInterval)
		d.log.Info("writing metrics for node_exporter's textfile collector", "path", d.o.Textfile, "interval", d.o.TextfileInterval)
	}
	return nil
}

// Addr is the address listened on, once started.
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// Stop shuts down gracefully: no new connections, requests in flight
// finish (within the shutdown timeout), then the kernel sockets close.
func (d *Daemon) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.o.ShutdownTimeout)
	defer cancel()
	err := d.srv.Shutdown(ctx)
	if d.stopText != nil {
		d.stopText()
	}
	if d.done != nil {
		if serr := <-d.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if d.kernel != nil {
		err = errors.Join(err, d.kernel.Close())
	}
	d.log.Info("bond-debugd stopped")
	return err
}
