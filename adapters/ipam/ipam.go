// Package ipam delegates address management to the IPAM plugin named in the
// network config, through containernetworking/cni's invoke package. The
// delegate gets the whole network config on stdin and an environment built
// from the invocation, so the same adapter serves the CNI binary, GC of
// other attachments, and tests.
//
// The environment is minimal, not inherited: the CNI variables of the call
// (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH),
// PATH (the plugin's own, or DefaultPATH) for IPAM plugins that exec
// helpers, and the variables the node admin names ("ipamEnv" in the node
// settings). Whatever else the runtime's environment holds stays with the
// plugin.
//
// An IPAM failure keeps the IPAM plugin's code (106 if it gave none, e.g.
// when it died without output) and its message and details.
package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// DefaultPATH is the PATH an IPAM plugin gets when the plugin has none.
const DefaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// cniVars are the variables invoke sets for the call.
var cniVars = []string{"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"}

// Delegate is a ports.IPAM over invoke.
type Delegate struct {
	// Exec runs plugins; nil means a process (proc).
	Exec invoke.Exec
	// PassEnv names further variables of the plugin's environment the IPAM
	// plugin gets (the node settings' "ipamEnv").
	PassEnv []string
}

var _ ports.IPAM = (*Delegate)(nil)

// New returns a Delegate using exec (nil for real process execution).
func New(exec invoke.Exec) *Delegate { return &Delegate{Exec: exec} }

// exec returns an Exec that runs the plugin with the minimal environment.
func (d *Delegate) exec() invoke.Exec {
	inner := d.Exec
	if inner == nil {
		inner = &proc{stderr: os.Stderr}
	}
	return minimalEnv{Exec: inner, pass: d.PassEnv}
}

// minimalEnv runs plugins with only the CNI variables, PATH and PassEnv.
type minimalEnv struct {
	invoke.Exec
	pass []string
}

func (m minimalEnv) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	return m.Exec.ExecPlugin(ctx, path, stdin, Environment(environ, m.pass))
}

// Environment keeps of environ (invoke's: the process environment with the
// call's CNI variables set) only the CNI variables, PATH (DefaultPATH if
// unset) and the variables named in pass.
func Environment(environ, pass []string) []string {
	keep := map[string]bool{"PATH": true}
	for _, k := range cniVars {
		keep[k] = true
	}
	for _, k := range pass {
		keep[k] = true
	}
	var out []string
	havePath := false
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if keep[k] {
			out = append(out, kv)
			havePath = havePath || k == "PATH"
		}
	}
	if !havePath {
		out = append(out, "PATH="+DefaultPATH)
	}
	return out
}

// failed turns invoke's error into a coded one that keeps the IPAM
// plugin's code, message and details. invoke reports a plugin that died
// without output as code 0; that is CodeIPAMFailed.
func failed(plugin, verb string, err error) error {
	var te *types.Error
	if !errors.As(err, &te) {
		return domain.Errorf(domain.CodeIPAMFailed, "IPAM plugin %q %s: %w", plugin, verb, err)
	}
	code := domain.Code(te.Code)
	if code == 0 {
		code = domain.CodeIPAMFailed
	}
	details := fmt.Sprintf("IPAM plugin error code %d", te.Code)
	if te.Details != "" {
		details += ": " + te.Details
	}
	return &domain.Error{Code: code, Msg: fmt.Sprintf("IPAM plugin %q %s failed: %s", plugin, verb, te.Msg), Details: details, Err: err}
}

func (d *Delegate) findInPath(plugin string, paths []string) (string, error) {
	return d.exec().FindInPath(plugin, paths)
}

func (d *Delegate) find(plugin string, inv ports.Invocation) (string, error) {
	if plugin == "" || strings.ContainsRune(plugin, filepath.Separator) {
		return "", domain.Errorf(domain.CodeInvalidConfig, "ipam: \"type\": %q is not a plugin name", plugin)
	}
	paths := filepath.SplitList(inv.Path)
	if len(paths) == 0 {
		return "", domain.Errorf(domain.CodeInvalidEnv, "CNI_PATH is empty; cannot find IPAM plugin %q", plugin)
	}
	p, err := d.findInPath(plugin, paths)
	if err != nil {
		return "", domain.Errorf(domain.CodeIPAMFailed, "IPAM plugin %q not found in CNI_PATH %q: %w", plugin, inv.Path, err)
	}
	return p, nil
}

func args(cmd string, inv ports.Invocation) *invoke.Args {
	return &invoke.Args{
		Command:       cmd,
		ContainerID:   inv.ContainerID,
		NetNS:         string(inv.Netns),
		IfName:        inv.IfName,
		PluginArgsStr: inv.Args,
		Path:          inv.Path,
	}
}

// Add runs IPAM ADD and converts its result.
func (d *Delegate) Add(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (domain.IPAMResult, error) {
	path, err := d.find(plugin, inv)
	if err != nil {
		return domain.IPAMResult{}, err
	}
	r, err := invoke.ExecPluginWithResult(ctx, path, conf, args("ADD", inv), d.exec())
	if err != nil {
		return domain.IPAMResult{}, failed(plugin, "ADD", err)
	}
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		return domain.IPAMResult{}, fmt.Errorf("converting IPAM result: %w", err)
	}
	return convert(res)
}

func (d *Delegate) run(ctx context.Context, cmd, plugin string, conf []byte, inv ports.Invocation) error {
	path, err := d.find(plugin, inv)
	if err != nil {
		return err
	}
	if err := invoke.ExecPluginWithoutResult(ctx, path, conf, args(cmd, inv), d.exec()); err != nil {
		return failed(plugin, cmd, err)
	}
	return nil
}

// Del runs IPAM DEL.
func (d *Delegate) Del(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	return d.run(ctx, "DEL", plugin, conf, inv)
}

// Check runs IPAM CHECK.
func (d *Delegate) Check(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	return d.run(ctx, "CHECK", plugin, conf, inv)
}

// Status runs IPAM STATUS.
func (d *Delegate) Status(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	return d.run(ctx, "STATUS", plugin, conf, inv)
}

// GC runs IPAM GC.
func (d *Delegate) GC(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	return d.run(ctx, "GC", plugin, conf, inv)
}

func convert(r *types100.Result) (domain.IPAMResult, error) {
	var out domain.IPAMResult
	for _, ip := range r.IPs {
		addr, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			return out, fmt.Errorf("IPAM returned an invalid address %v", ip.Address.IP)
		}
		ones, _ := ip.Address.Mask.Size()
		c := domain.IPConfig{Address: netip.PrefixFrom(addr.Unmap(), ones)}
		if gw, ok := netip.AddrFromSlice(ip.Gateway); ok {
			c.Gateway = gw.Unmap()
		}
		out.IPs = append(out.IPs, c)
	}
	for _, rt := range r.Routes {
		dst, ok := netip.AddrFromSlice(rt.Dst.IP)
		if !ok {
			return out, fmt.Errorf("IPAM returned an invalid route destination %v", rt.Dst)
		}
		ones, _ := rt.Dst.Mask.Size()
		route := domain.Route{Dst: netip.PrefixFrom(dst.Unmap(), ones), MTU: rt.MTU, Priority: rt.Priority, Table: rt.Table, Scope: rt.Scope}
		if gw, ok := netip.AddrFromSlice(rt.GW); ok {
			route.GW = gw.Unmap()
		}
		out.Routes = append(out.Routes, route)
	}
	out.DNS = domain.DNS{Nameservers: r.DNS.Nameservers, Domain: r.DNS.Domain, Search: r.DNS.Search, Options: r.DNS.Options}
	return out, nil
}
