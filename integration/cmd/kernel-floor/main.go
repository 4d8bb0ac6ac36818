// Command kernel-floor makes the kernel changes of one bond ADD or DEL and
// nothing else: no records, no locks, no IPAM, no fx; the same rtnetlink
// messages through the plugin's own adapter (adapters/nlkernel), for the
// bond the network config on stdin describes (its links, mode and
// options, read by the plugin's own domain.ParseSpec), so that the bond it
// builds is the one the plugin builds for that config. make bench execs it
// to measure what the kernel's own work costs, so each budget can say
// whether any plugin could meet it on this kernel: a DEL can be no faster
// than this program's DEL, however little the plugin does.
//
//	kernel-floor -verb add|del|none -netns PATH -bond NAME [-host] [-addr CIDR] < CONFIG
//
// With -host the links start on the host and ADD moves them into the pod
// (DEL moves them back); otherwise they are in the pod already. -verb none
// does everything but the kernel work (reads and parses the config, opens
// the adapter, exits): what this program costs beyond the kernel's work,
// which the bench subtracts.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/domain"
)

func main() {
	verb := flag.String("verb", "", "add or del")
	pod := flag.String("netns", "", "the pod's netns path")
	bond := flag.String("bond", "bond0", "the bond's name in the pod")
	host := flag.Bool("host", false, "the links start on the host")
	addr := flag.String("addr", "", "an address to put on the bond (ADD)")
	flag.Parse()
	if err := run(*verb, domain.Netns(*pod), *bond, *host, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "kernel-floor:", err)
		os.Exit(1)
	}
}

func run(verb string, pod domain.Netns, bond string, host bool, addr string) error {
	conf, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	spec, err := bondSpec(conf, bond)
	if err != nil {
		return err
	}
	ctx := context.Background()
	k := nlkernel.New()
	defer k.Close()
	switch verb {
	case "add":
		return add(ctx, k, pod, spec, host, addr)
	case "del":
		return del(ctx, k, pod, spec, host)
	case "none":
		return nil
	}
	return fmt.Errorf("-verb %q: want add, del or none", verb)
}

// bondSpec is the bond the plugin would build for conf, named bond.
func bondSpec(conf []byte, bond string) (domain.BondSpec, error) {
	_, spec, err := domain.ParseSpec(conf, bond, domain.SpecOptions{})
	if err != nil {
		return domain.BondSpec{}, fmt.Errorf("the network config on stdin: %w", err)
	}
	return spec, nil
}

// add is ADD's kernel branch: move (with -host), create the bond with
// its options, enslave each link, bond up, address.
func add(ctx context.Context, k *nlkernel.Adapter, pod domain.Netns, spec domain.BondSpec, host bool, addr string) error {
	var idx []int
	mtu := 0
	for _, name := range spec.Links {
		where := pod
		if host {
			where = domain.HostNetns
		}
		l, err := k.Link(ctx, where, name)
		if err != nil {
			return err
		}
		if host {
			if l, err = k.Move(ctx, domain.HostNetns, l.Index, pod, name); err != nil {
				return err
			}
		}
		idx = append(idx, l.Index)
		if mtu == 0 || l.MTU < mtu {
			mtu = l.MTU
		}
	}
	if spec.MTU == 0 {
		spec.MTU = mtu // as the plugin plans it: the links' smallest
	}
	b, err := k.CreateBond(ctx, pod, spec, "kernel-floor")
	if err != nil {
		return err
	}
	for _, i := range idx {
		if err := k.Enslave(ctx, pod, b.Index, i); err != nil {
			return err
		}
	}
	if err := k.SetUp(ctx, pod, b.Index, true); err != nil {
		return err
	}
	if addr == "" {
		return nil
	}
	p, err := netip.ParsePrefix(addr)
	if err != nil {
		return err
	}
	return k.Configure(ctx, pod, b.Index, []domain.IPConfig{{Address: p}}, nil)
}

// del is DEL's kernel teardown: delete the bond (the kernel releases its
// slaves), then move each link back (with -host) or read it back.
func del(ctx context.Context, k *nlkernel.Adapter, pod domain.Netns, spec domain.BondSpec, host bool) error {
	b, err := k.Link(ctx, pod, spec.Name)
	if err != nil {
		return err
	}
	if err := k.Delete(ctx, pod, b.Index); err != nil {
		return err
	}
	for _, name := range spec.Links {
		l, err := k.Link(ctx, pod, name)
		if err != nil {
			return err
		}
		if host {
			if _, err := k.Move(ctx, pod, l.Index, domain.HostNetns, name); err != nil {
				return err
			}
		}
	}
	return nil
}
