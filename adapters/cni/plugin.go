// Package cni is the driving adapter for the CNI binary: it turns the
// runtime's environment and stdin (through containernetworking/cni's skel)
// into app requests, and the use cases' results and errors into CNI JSON on
// stdout. Logs never go to stdout.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/bondcni/bond/adapters/logging"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Versions are the CNI spec versions the plugin speaks.
var Versions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

// UseCases is what the adapter drives (app.Service).
type UseCases interface {
	Add(ctx context.Context, req app.Request) (domain.Result, error)
	Del(ctx context.Context, req app.Request) error
	Check(ctx context.Context, req app.Request) error
	Status(ctx context.Context, req app.Request) error
	GC(ctx context.Context, req app.Request) error
}

// Plugin runs one CNI invocation.
type Plugin struct {
	uc     UseCases
	sink   *logging.Sink
	logDir string
	log    *slog.Logger
	about  string
	// Node is the node admin's policy: a config it refuses (a host link
	// not on the list, an unsafe opt-in the node does not allow) opens no
	// log file either. The zero value is the policy without a node file.
	Node domain.NodePolicy
}

// New returns the adapter. sink may be nil (no log files, stderr only);
// logDir is the node admin's log directory, the only place a network
// config's "logFile" can name a file in.
func New(uc UseCases, sink *logging.Sink, logDir, about string) *Plugin {
	p := &Plugin{uc: uc, sink: sink, logDir: logDir, about: about}
	if sink != nil {
		p.log = sink.Logger()
	} else {
		p.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return p
}

// Run reads the environment and stdin, runs the verb, prints the result or
// the error JSON on stdout, and returns the error (nil on success).
func (p *Plugin) Run() *types.Error {
	return skel.PluginMainFuncsWithError(p.Funcs(), Versions, p.about)
}

// Funcs returns the verb handlers, for skel or for tests.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{
		Add:    p.guard(p.add),
		Del:    p.guard(p.del),
		Check:  p.guard(p.check),
		Status: p.guard(p.status),
		GC:     p.guard(p.gc),
	}
}

// logSettings are what the adapter itself reads of the network config.
type logSettings struct {
	CNIVersion string `json:"cniVersion"`
	// Present only when the config has the key; without either, logging
	// needs no look at the rest of the config.
	LogLevel json.RawMessage `json:"logLevel"`
	LogFile  json.RawMessage `json:"logFile"`
}

// guard configures logging from the config, converts errors to CNI errors
// and turns a panic into an error instead of a crash with a partial stdout.
func (p *Plugin) guard(h func(context.Context, *skel.CmdArgs, logSettings) error) func(*skel.CmdArgs) error {
	return func(args *skel.CmdArgs) (err error) {
		defer func() {
			if r := recover(); r != nil {
				// The stack is for the node admin's log; the runtime (and
				// the pod's events) get a short message.
				p.log.Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = types.NewError(types.ErrInternal, "internal error in the bond plugin (the node's plugin log has the details)", "")
			}
		}()
		var ls logSettings
		_ = json.Unmarshal(args.StdinData, &ls) // bad JSON is reported by the use case
		if ls.LogLevel != nil || ls.LogFile != nil {
			p.configureLogging(args)
		}
		if err := toCNIError(h(context.Background(), args, ls)); err != nil {
			// The runtime shows the error in the pod's events; the node's
			// log keeps it too, with the call it belongs to.
			var ce *types.Error
			if errors.As(err, &ce) {
				p.log.Warn("CNI call failed", "command", os.Getenv("CNI_COMMAND"), "containerID", args.ContainerID, "ifname", args.IfName, "code", ce.Code, "msg", ce.Msg)
			}
			return err
		}
		return nil
	}
}

// configureLogging applies the config's logLevel and logFile only once the
// whole config has been validated: nothing is opened, let alone created,
// for a config ADD would refuse. The file is a name inside the node admin's
// log directory (domain.CheckLogFileName); a file that cannot be used is
// reported in the log and otherwise ignored, since logging must never fail
// a CNI call.
func (p *Plugin) configureLogging(args *skel.CmdArgs) {
	if p.sink == nil {
		return
	}
	cfg, err := domain.ParseConfig(args.StdinData)
	if err != nil || (cfg.LogLevel == "" && cfg.LogFile == "") {
		return
	}
	spec, err := cfg.Spec(args.IfName)
	if err != nil || p.Node.Admit(spec) != nil {
		return // the use case reports it
	}
	p.sink.LowerLevel(cfg.LogLevel)
	if cfg.LogFile == "" {
		return
	}
	if err := p.sink.AddFile(p.logDir, cfg.LogFile); err != nil {
		p.log.Warn("logFile from the network config not used", "logFile", cfg.LogFile, "err", err)
	}
}

func request(args *skel.CmdArgs) app.Request {
	return app.Request{
		Invocation: ports.Invocation{
			ContainerID: args.ContainerID,
			Netns:       domain.Netns(args.Netns),
			IfName:      args.IfName,
			Args:        args.Args,
			Path:        args.Path,
		},
		Config: args.StdinData,
	}
}

func (p *Plugin) add(ctx context.Context, args *skel.CmdArgs, ls logSettings) error {
	res, err := p.uc.Add(ctx, request(args))
	if err != nil {
		return err
	}
	cniVersion := ls.CNIVersion
	if cniVersion == "" {
		cniVersion = version.Current()
	}
	return types.PrintResult(ToCNIResult(res), cniVersion)
}

func (p *Plugin) del(ctx context.Context, args *skel.CmdArgs, _ logSettings) error {
	return p.uc.Del(ctx, request(args))
}

func (p *Plugin) check(ctx context.Context, args *skel.CmdArgs, _ logSettings) error {
	return p.uc.Check(ctx, request(args))
}

func (p *Plugin) status(ctx context.Context, args *skel.CmdArgs, _ logSettings) error {
	return p.uc.Status(ctx, request(args))
}

func (p *Plugin) gc(ctx context.Context, args *skel.CmdArgs, _ logSettings) error {
	return p.uc.GC(ctx, request(args))
}

// ToCNIResult renders a domain result as a CNI 1.1 result; PrintResult
// converts it to the config's version.
func ToCNIResult(r domain.Result) *types100.Result {
	out := &types100.Result{CNIVersion: types100.ImplementedSpecVersion}
	for _, i := range r.Interfaces {
		out.Interfaces = append(out.Interfaces, &types100.Interface{Name: i.Name, Mac: i.MAC, Mtu: i.MTU, Sandbox: i.Sandbox, PciID: i.PciID})
	}
	for _, ip := range r.IPs {
		c := &types100.IPConfig{
			Interface: types100.Int(0),
			Address:   net.IPNet{IP: ip.Address.Addr().AsSlice(), Mask: net.CIDRMask(ip.Address.Bits(), ip.Address.Addr().BitLen())},
		}
		if ip.Gateway.IsValid() {
			c.Gateway = ip.Gateway.AsSlice()
		}
		out.IPs = append(out.IPs, c)
	}
	for _, rt := range r.Routes {
		route := &types.Route{
			Dst: net.IPNet{IP: rt.Dst.Addr().AsSlice(), Mask: net.CIDRMask(rt.Dst.Bits(), rt.Dst.Addr().BitLen())},
			MTU: rt.MTU, Priority: rt.Priority, Table: rt.Table, Scope: rt.Scope,
		}
		if rt.GW.IsValid() {
			route.GW = rt.GW.AsSlice()
		}
		out.Routes = append(out.Routes, route)
	}
	out.DNS = types.DNS{Nameservers: r.DNS.Nameservers, Domain: r.DNS.Domain, Search: r.DNS.Search, Options: r.DNS.Options}
	return out
}

// toCNIError maps a use-case error to a CNI error with the right code.
func toCNIError(err error) error {
	if err == nil {
		return nil
	}
	// Our coded error first: it may wrap a delegate's *types.Error (IPAM),
	// whose code it has already judged.
	var de *domain.Error
	if errors.As(err, &de) {
		return types.NewError(uint(de.Code), strings.TrimSuffix(err.Error(), ": "+de.Details), de.Details)
	}
	var te *types.Error
	if errors.As(err, &te) && te.Code != 0 {
		return te
	}
	return types.NewError(types.ErrInternal, err.Error(), "")
}
