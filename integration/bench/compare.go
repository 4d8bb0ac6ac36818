package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bondcni/bond/integration/kit"
)

// The compare phase (-compare NAME) measures bond against another bond
// plugin in BinDir, typically the one it replaces, on the same work: each
// pod's ADD and DEL through libcni with the same network config but for
// its "type", two veths in a pod of their own, then rounds with the two
// host NICs. The two take turns, and so do their cold VERSION execs beside
// hello-world's, so that the emulator's drift hits both alike.

// Series keys of the compare phase: cmpKey(verb, scenario, side).
const (
	cmpBond  = "bond"
	cmpOther = "other"
)

func cmpKey(verb, scenario, side string) string { return verb + "_cmp_" + scenario + "_" + side }

// cmpFloors is the suffix of the phase's floor series (floorRound):
// exec_hello_cmp, exec_ipam_add_cmp, exec_version_cmp (bond's VERSION),
// exec_other_version_cmp, ...
const cmpFloors = "_cmp"

// Comparison names what was compared; its figures are in Latency and CPU
// under the cmpKey series.
type Comparison struct {
	Other      string `json:"other"`
	Pods       int    `json:"pods"`
	HostRounds int    `json:"host_rounds"`
}

// withType is conf naming plugin as its type; an error if conf does not
// name bond (the other side would silently be bond itself).
func withType(conf []byte, plugin string) ([]byte, error) {
	from := []byte(`"type": "bond"`)
	if !bytes.Contains(conf, from) {
		return nil, fmt.Errorf("config names no plugin of type bond: %s", conf)
	}
	return bytes.Replace(conf, from, []byte(`"type": "`+plugin+`"`), 1), nil
}

// checkOther fails early, before the first phase, for a -compare plugin
// that cannot answer VERSION here (missing, not executable, dynamically
// linked), rather than after the other phases have run.
func checkOther(binDir, other string) error {
	if filepath.Base(other) != other || other == "bond" || other == "" {
		return fmt.Errorf("-compare %q: name a plugin binary in %s other than bond", other, binDir)
	}
	r, err := run(filepath.Join(binDir, other), []string{"CNI_COMMAND=VERSION"}, []byte(`{"cniVersion":"1.1.0"}`))
	if err != nil {
		return fmt.Errorf("-compare %s: VERSION: %w", other, err)
	}
	if !bytes.Contains(r.Stdout, []byte("supportedVersions")) {
		return fmt.Errorf("-compare %s: VERSION answered %q", other, r.Stdout)
	}
	return nil
}

// checkBond reads back from the kernel what an ADD of either plugin must
// have made, so that neither side is timed for less work: the bond in the
// mode the config asks for, polling every 100 ms, with both links
// (slaves sorted by name).
func checkBond(ns, bond, mode string, slaves ...string) error {
	proc, err := kit.ProcBonding(ns, bond)
	if err != nil {
		return fmt.Errorf("bond %s: %w", bond, err)
	}
	if got := kit.BondField(proc, "Bonding Mode"); !strings.Contains(got, mode) {
		return fmt.Errorf("bond %s: mode %q, want %s", bond, got, mode)
	}
	if got := kit.BondField(proc, "MII Polling Interval (ms)"); got != "100" {
		return fmt.Errorf("bond %s: miimon %q, want 100", bond, got)
	}
	got := kit.BondSlaves(proc)
	slices.Sort(got)
	if !slices.Equal(got, slaves) {
		return fmt.Errorf("bond %s: slaves %v, want %v", bond, got, slaves)
	}
	return nil
}

// checkGone tells whether a DEL left the bond behind.
func checkGone(ns, bond string) error {
	if _, err := kit.Link(ns, bond); err == nil {
		return fmt.Errorf("bond %s still exists after DEL", bond)
	}
	return nil
}

func (b *bench) compare() error {
	other := b.p.Compare
	sides := [2]struct{ side, plugin string }{{cmpBond, "bond"}, {cmpOther, other}}
	lat := map[string][]time.Duration{}
	// turn runs f for both sides (n indexes sides), the first one
	// alternating with i.
	turn := func(i int, f func(n int, side, plugin string) error) error {
		for k := range 2 {
			n := (i + k) % 2
			s := sides[n]
			if err := f(n, s.side, s.plugin); err != nil {
				return fmt.Errorf("%s: %w", s.plugin, err)
			}
		}
		return nil
	}
	timed := func(key string, op func(attachment) (time.Duration, error), a attachment) error {
		d, err := op(a)
		if err != nil {
			return err
		}
		lat[key] = append(lat[key], d)
		return nil
	}

	pods := make([][2]attachment, b.p.ComparePods)
	for i := range pods {
		for k, s := range sides {
			pod, err := b.sc.pod("bench-cmp")
			if err != nil {
				return err
			}
			conf, err := withType(podConf(i), s.plugin)
			if err != nil {
				return err
			}
			a, err := newAttachment(b.containerID("cmp"), pod, "bond0", conf)
			if err != nil {
				return err
			}
			a.cpuKey = "cmp_pod_" + s.side
			pods[i][k] = a
		}
	}
	progress("set up", 2*len(pods))
	for i := range pods {
		err := turn(i, func(n int, side, _ string) error {
			a := pods[i][n]
			if err := timed(cmpKey("add", "pod", side), b.add, a); err != nil {
				return err
			}
			return checkBond(a.netns, "bond0", "802.3ad", "net1", "net2")
		})
		if err != nil {
			return err
		}
		// The floors of this phase, and both plugins' cold VERSION.
		if err := b.floorRound(i, cmpFloors, pods[i][0].netns, pods[i][0].conf, floorHello, floorVersion, floorOtherVersion, floorIPAMAdd); err != nil {
			return err
		}
	}
	progress("ADD", 2*len(pods))
	for i := range pods {
		err := turn(i, func(n int, side, _ string) error {
			a := pods[i][n]
			if err := timed(cmpKey("del", "pod", side), b.del, a); err != nil {
				return err
			}
			return checkGone(a.netns, "bond0")
		})
		if err != nil {
			return err
		}
		if err := b.floorRound(i, cmpFloors, pods[i][0].netns, pods[i][0].conf, floorIPAMDel); err != nil {
			return err
		}
	}
	progress("DEL", 2*len(pods))
	for _, p := range pods {
		for _, a := range p {
			if err := b.sc.drop(a.netns); err != nil {
				return err
			}
		}
	}

	for r := range b.p.CompareHost {
		err := turn(r, func(_ int, side, plugin string) error {
			pod, err := b.sc.emptyPod("bench-cmp-host")
			if err != nil {
				return err
			}
			conf, err := withType(hostConf, plugin)
			if err != nil {
				return err
			}
			a, err := newAttachment(b.containerID("cmph"), pod, "net1", conf)
			if err != nil {
				return err
			}
			a.cpuKey = "cmp_host_" + side
			if err := timed(cmpKey("add", "host", side), b.add, a); err != nil {
				return err
			}
			if err := checkBond(pod, "net1", "active-backup", hostNIC1, hostNIC2); err != nil {
				return err
			}
			if err := timed(cmpKey("del", "host", side), b.del, a); err != nil {
				return err
			}
			if err := hostNICsHome(); err != nil {
				return err
			}
			return b.sc.drop(pod)
		})
		if err != nil {
			return err
		}
	}
	for k, v := range lat {
		b.rep.Latency[k] = newDist(v)
	}
	b.rep.Compare = &Comparison{Other: other, Pods: b.p.ComparePods, HostRounds: b.p.CompareHost}
	return nil
}
