// Command bond-demo runs the seed's two scenarios end to end through libcni
// on a real kernel (inside the project's QEMU VM): two host NICs bonded
// active-backup, and two in-pod links (standing in for SR-IOV VFs) bonded
// 802.3ad against an LACP partner. It prints each CNI result, the bond as
// the pod sees it, then DELs and shows the restored links.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/integration/kit"
)

// hostConf is the seed's first example, host-local standing in for
// calico-ipam; the second is kit.SeedSRIOVConf as it is.
var hostConf = kit.SeedHostConf("0.3.1", `{"type": "host-local", "subnet": "10.10.20.0/24", "dataDir": "/tmp/demo-host-local"}`)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	fmt.Println("\nDEMO OK: both seed scenarios attached, worked and were cleaned up")
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func run() error {
	binDir := os.Getenv("CNI_PATH")
	cni := libcni.NewCNIConfigWithCacheDir([]string{binDir}, "/tmp/demo-cache", nil)
	ctx := context.Background()

	banner("Scenario 1: two host NICs bonded active-backup (seed example 1, host-local for calico-ipam)")
	showHost("host NICs before ADD")
	pod, err := kit.CreateNetns("demo-pod1")
	if err != nil {
		return err
	}
	if err := attach(ctx, cni, hostConf, pod, "net1", "demo-ctr-1", func() {
		showBond(pod, "net1")
	}); err != nil {
		return err
	}
	showHost("host NICs after DEL (restored: name, MTU, MAC, admin state)")
	_ = kit.DeleteNetns(pod)

	banner("Scenario 2: two in-pod links bonded 802.3ad (seed example 2; veths stand in for SR-IOV VFs)")
	pod2, err := kit.CreateNetns("demo-pod2")
	if err != nil {
		return err
	}
	sw, err := kit.CreateNetns("demo-switch")
	if err != nil {
		return err
	}
	if err := lacpPartner(pod2, sw); err != nil {
		return err
	}
	fmt.Println("pod links before ADD (net1, net2 as an SR-IOV plugin leaves them):")
	fmt.Println(indent(linkTable(pod2)))
	if err := attach(ctx, cni, kit.SeedSRIOVConf, pod2, "bond0", "demo-ctr-2", func() {
		// LACP needs a few LACPDUs to settle.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			proc, _ := kit.ProcBonding(pod2, "bond0")
			if strings.Contains(proc, "Partner Mac Address") && !strings.Contains(kit.BondField(proc, "Partner Mac Address"), "00:00:00:00:00:00") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		showBond(pod2, "bond0")
	}); err != nil {
		return err
	}
	fmt.Println("pod links after DEL (released, left in the pod, state restored):")
	fmt.Println(indent(linkTable(pod2)))
	_ = kit.DeleteNetns(pod2)
	_ = kit.DeleteNetns(sw)
	return nil
}

func attach(ctx context.Context, cni *libcni.CNIConfig, conf, pod, ifname, ctr string, show func()) error {
	pc, err := libcni.NetworkPluginConfFromBytes([]byte(conf))
	if err != nil {
		return err
	}
	list, err := libcni.ConfListFromConf(pc)
	if err != nil {
		return err
	}
	rt := &libcni.RuntimeConf{ContainerID: ctr, NetNS: pod, IfName: ifname,
		Args: [][2]string{{"IgnoreUnknown", "true"}, {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", ctr}}}
	fmt.Printf("\n$ CNI ADD (containerID=%s, CNI_IFNAME=%s, netns=%s)\n", ctr, ifname, pod)
	res, err := cni.AddNetworkList(ctx, list, rt)
	if err != nil {
		return fmt.Errorf("ADD: %w", err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println("CNI result:")
	fmt.Println(indent(string(out)))
	show()
	fmt.Printf("\n$ CNI CHECK\n")
	if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
		fmt.Println("CHECK (skipped by libcni below 0.4.0):", err)
	} else {
		fmt.Println("CHECK ok")
	}
	fmt.Printf("\n$ CNI DEL\n")
	if err := cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("DEL: %w", err)
	}
	fmt.Println("DEL ok")
	return nil
}

func showBond(pod, bond string) {
	proc, err := kit.ProcBonding(pod, bond)
	must(err)
	fmt.Printf("\nthe bond as the pod sees it (/proc/net/bonding/%s):\n", bond)
	fmt.Println(indent(strings.TrimSpace(proc)))
	fmt.Println("\npod links:")
	fmt.Println(indent(linkTable(pod)))
}

func showHost(title string) {
	fmt.Printf("\n%s:\n", title)
	fmt.Println(indent(linkTable("")))
}

func linkTable(ns string) string {
	c, err := kit.Dial(ns)
	must(err)
	defer c.Close()
	links, err := c.Link.List()
	must(err)
	addrs, _ := c.Address.List()
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-9s %-7s %-5s %-18s %-5s %s\n", "idx", "name", "kind", "mtu", "mac", "state", "addresses")
	for _, l := range links {
		kind := ""
		if l.Attributes.Info != nil {
			kind = l.Attributes.Info.Kind
		}
		state := "down"
		if l.Flags&unix.IFF_UP != 0 {
			state = "up"
		}
		var ips []string
		for _, a := range addrs {
			if a.Index == l.Index {
				ips = append(ips, fmt.Sprintf("%s/%d", a.Attributes.Address, a.PrefixLength))
			}
		}
		master := ""
		if l.Attributes.Master != nil {
			master = fmt.Sprintf(" (slave of ifindex %d)", *l.Attributes.Master)
		}
		fmt.Fprintf(&b, "%-4d %-9s %-7s %-5d %-18s %-5s %s%s\n", l.Index, l.Attributes.Name, kind, l.Attributes.MTU, l.Attributes.Address, state, strings.Join(ips, ","), master)
	}
	return strings.TrimRight(b.String(), "\n")
}

// lacpPartner builds two veth pairs pod:net1/net2 <-> switch:sw1/sw2 and an
// 802.3ad bond over sw1+sw2 in the switch netns, so LACP has a partner.
func lacpPartner(pod, sw string) error {
	c, err := kit.Dial(pod)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Open(sw)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range [][2]string{{"net1", "sw1"}, {"net2", "sw2"}} {
		peer := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: p[1], NetNS: rtnetlink.NetNSForFD(uint32(f.Fd()))}}
		if err := c.Link.New(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: p[0],
			Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{PeerInfo: peer}}}}); err != nil {
			return fmt.Errorf("veth %s: %w", p[0], err)
		}
	}
	s, err := kit.Dial(sw)
	if err != nil {
		return err
	}
	defer s.Close()
	miimon := uint32(100)
	rate := driver.BondLacpRateFast
	if err := s.Link.New(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "partner",
		Info: &rtnetlink.LinkInfo{Kind: "bond", Data: &driver.Bond{Mode: driver.BondMode802_3AD, Miimon: &miimon, AdLacpRate: &rate}}}}); err != nil {
		return fmt.Errorf("partner bond: %w", err)
	}
	links, err := s.Link.List()
	if err != nil {
		return err
	}
	idx := map[string]uint32{}
	for _, l := range links {
		idx[l.Attributes.Name] = l.Index
	}
	for _, p := range []string{"sw1", "sw2"} {
		m := idx["partner"]
		if err := s.Link.Set(&rtnetlink.LinkMessage{Index: idx[p], Attributes: &rtnetlink.LinkAttributes{Master: &m}}); err != nil {
			return fmt.Errorf("enslaving %s: %w", p, err)
		}
	}
	return s.Link.Set(&rtnetlink.LinkMessage{Index: idx["partner"], Flags: unix.IFF_UP, Change: unix.IFF_UP})
}

func banner(s string) {
	fmt.Printf("\n%s\n%s\n", s, strings.Repeat("=", len(s)))
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
