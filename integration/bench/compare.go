package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"time"
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

// Comparison names what was compared; its figures are in Latency and CPU
// under the cmpKey series.
type Comparison struct {
	Other      string `json:"other"`
	Pods       int    `json:"pods"`
	HostRounds int    `json:"host_rounds"`
}

// withType is conf naming plugin as its type.
func withType(conf []byte, plugin string) []byte {
	return bytes.Replace(conf, []byte(`"type": "bond"`), []byte(`"type": "`+plugin+`"`), 1)
}

func (b *bench) compare() error {
	other := b.p.Compare
	if filepath.Base(other) != other || other == "bond" {
		return fmt.Errorf("-compare %q: name a plugin binary in %s other than bond", other, b.p.BinDir)
	}
	sides := [2]struct{ side, plugin string }{{cmpBond, "bond"}, {cmpOther, other}}
	lat := map[string][]time.Duration{}
	// turn runs f for both sides, the first one alternating with i.
	turn := func(i int, f func(side, plugin string) error) error {
		for k := range 2 {
			s := sides[(i+k)%2]
			if err := f(s.side, s.plugin); err != nil {
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
			a, err := newAttachment(b.containerID("cmp"), pod, "bond0", withType(podConf(i), s.plugin))
			if err != nil {
				return err
			}
			a.cpuKey = "cmp_pod_" + s.side
			pods[i][k] = a
		}
	}
	progress("set up", 2*len(pods))
	version := []byte(`{"cniVersion":"1.1.0"}`)
	for i := range pods {
		err := turn(i, func(side, plugin string) error {
			k := 0
			if side == cmpOther {
				k = 1
			}
			return timed(cmpKey("add", "pod", side), b.add, pods[i][k])
		})
		if err != nil {
			return err
		}
		// Cold VERSION of each, and hello-world's, in turns.
		execs := []struct{ key, path string }{
			{cmpKey("version", "pod", cmpBond), b.bond},
			{cmpKey("version", "pod", cmpOther), filepath.Join(b.p.BinDir, other)},
			{"exec_hello_cmp", b.hello},
		}
		for k := range execs {
			e := execs[(i+k)%len(execs)]
			var env []string
			if e.path != b.hello {
				env = []string{"CNI_COMMAND=VERSION"}
			}
			r, err := run(e.path, env, version)
			if err != nil {
				return err
			}
			b.sample(e.key, r)
		}
	}
	progress("ADD", 2*len(pods))
	for i := range pods {
		err := turn(i, func(side, plugin string) error {
			k := 0
			if side == cmpOther {
				k = 1
			}
			return timed(cmpKey("del", "pod", side), b.del, pods[i][k])
		})
		if err != nil {
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
		err := turn(r, func(side, plugin string) error {
			pod, err := b.sc.emptyPod("bench-cmp-host")
			if err != nil {
				return err
			}
			a, err := newAttachment(b.containerID("cmph"), pod, "net1", withType(hostConf, plugin))
			if err != nil {
				return err
			}
			a.cpuKey = "cmp_host_" + side
			if err := timed(cmpKey("add", "host", side), b.add, a); err != nil {
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
