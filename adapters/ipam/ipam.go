// Package ipam delegates address management to the IPAM plugin named in the
// network config, through containernetworking/cni's invoke package. The
// delegate gets the whole network config on stdin and an environment built
// from the invocation (not inherited), so the same adapter serves the CNI
// binary, GC of other attachments, and tests.
package ipam

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Delegate is a ports.IPAM over invoke.
type Delegate struct {
	// Exec runs plugins; nil means invoke's RawExec.
	Exec invoke.Exec
}

var _ ports.IPAM = (*Delegate)(nil)

// New returns a Delegate using exec (nil for real process execution).
func New(exec invoke.Exec) *Delegate { return &Delegate{Exec: exec} }

// exec returns the injected Exec, or nil, which invoke reads as "run the
// plugin as a process".
func (d *Delegate) exec() invoke.Exec { return d.Exec }

func (d *Delegate) findInPath(plugin string, paths []string) (string, error) {
	if d.Exec != nil {
		return d.Exec.FindInPath(plugin, paths)
	}
	return invoke.FindInPath(plugin, paths)
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
		return domain.IPAMResult{}, err
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
	return invoke.ExecPluginWithoutResult(ctx, path, conf, args(cmd, inv), d.exec())
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
