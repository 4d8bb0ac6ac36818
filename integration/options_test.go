package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
)

// Every option of the README's key table (domain.OptionRules, the table
// the README is written from), in every mode that accepts it, is set
// through the real plugin and read back from the kernel's sysfs; in every
// mode that does not accept it, ADD fails with code 7 before anything
// changes (issue 4, item 6).

// optionCase is the value a test sets for an option and what the kernel
// must then report (sysfs, "name number" for enums).
type optionCase struct {
	value any
	want  string
	// group is "arp" for the ARP monitor's options, which go in a bond of
	// their own (the kernel takes one monitor at a time).
	group string
}

// topologyCases are the options whose Sample would name what this test's
// topology does not have: the links are s1 and s2, the server 10.99.0.1.
var topologyCases = map[string]optionCase{
	"links":        {want: "s1 s2"},
	"primary":      {value: "s2", want: "s2"},
	"arpIpTargets": {value: []string{"10.99.0.1", "10.99.0.9"}, want: "10.99.0.1 10.99.0.9", group: "arp"},
}

// caseFor returns the case of key in mode m: its row's Sample (a
// non-default value) and what sysfs must show for it. A kernel option
// without a case fails TestOptionsReadBackEveryMode.
func caseFor(key string, m domain.Mode) (optionCase, bool) {
	switch key {
	case "mode":
		return optionCase{value: m.String(), want: fmt.Sprintf("%s %d", m, m)}, true
	case "tlbDynamicLb":
		if m == domain.ModeBalanceALB {
			// balance-alb requires 1 (the kernel forces it); 0 is refused.
			return optionCase{value: 1, want: "1"}, true
		}
	}
	if c, ok := topologyCases[key]; ok {
		return c, true
	}
	for r := range domain.BondOptionRows() {
		if r.Key != key {
			continue
		}
		var o domain.BondOptions
		c := optionCase{}
		if r.SetSample(&o) != nil || json.Unmarshal([]byte(r.Sample()), &c.value) != nil {
			return optionCase{}, false
		}
		if strings.HasPrefix(r.Kernel, "arp_") {
			c.group = "arp"
		}
		switch v := r.Value(&o).(type) {
		case string:
			c.want = v
			if n, ok := r.Uint(&o); ok { // an enum: sysfs shows its name and number
				c.want = fmt.Sprintf("%s %d", v, n)
			}
		case []string:
			c.want = strings.Join(v, " ")
		default:
			c.want = fmt.Sprint(v)
		}
		return c, true
	}
	for _, r := range domain.OptionRules() {
		if r.Key == key && r.Kernel == "mtu" { // a link attribute, a number
			return optionCase{value: json.Number(r.Sample), want: r.Sample}, true
		}
	}
	return optionCase{}, false
}

// readBack reads what the kernel holds for a kernel option of bond0.
func readBack(t *testing.T, ns string, r domain.OptionRule) string {
	t.Helper()
	if r.Kernel == "mtu" {
		return fmt.Sprint(kit.MustLink(t, ns, "bond0").Attributes.MTU)
	}
	v, err := kit.SysfsBond(ns, "bond0", r.Kernel)
	require.NoError(t, err, "reading %s", r.Kernel)
	return v
}

func TestOptionsReadBackEveryMode(t *testing.T) {
	kit.Require(t)
	rules := domain.OptionRules()
	covered := map[string]bool{}
	for _, r := range rules {
		if _, ok := caseFor(r.Key, domain.ModeActiveBackup); !ok && r.Kernel != "" {
			t.Errorf("option %q (kernel %s) has no test value: a Sample in its row, or a case in topologyCases", r.Key, r.Kernel)
		}
	}
	for _, m := range domain.AllModes() {
		groups := []string{"mii"}
		if m.SupportsARPMonitor() {
			groups = append(groups, "arp")
		}
		for _, g := range groups {
			t.Run(m.String()+"/"+g, func(t *testing.T) {
				e := newCNI(t)
				tp := kit.NewTopology(t, kit.TopologyConfig{})
				opts := map[string]any{"miimon": nil}
				var set []domain.OptionRule
				for _, r := range rules {
					c, ok := caseFor(r.Key, m)
					if r.Kernel == "" || !ok || !r.AcceptsMode(m) {
						continue
					}
					// The arp group's bond carries the arp options and what
					// every bond needs; the mii group's all the others.
					if g == "mii" && c.group == "arp" || g == "arp" && c.group != "arp" && r.Key != "mode" && r.Key != "links" {
						continue
					}
					if c.value != nil {
						opts[r.Key] = c.value
					}
					set = append(set, r)
				}
				a := e.attachment(trafficConf(tp, m.String(), opts), tp.Pod, "bond0")
				e.mustAdd(a)
				for _, r := range set {
					c, _ := caseFor(r.Key, m)
					got := readBack(t, tp.Pod, r)
					if assert.Equal(t, c.want, got, "%s (%s) in %s", r.Key, r.Kernel, m) {
						covered[r.Key+"/"+m.String()] = true
					}
				}
				if mtu, ok := opts["mtu"]; ok {
					want, err := strconv.ParseUint(fmt.Sprint(mtu), 10, 32)
					require.NoError(t, err)
					for _, s := range tp.Slaves {
						assert.Equal(t, uint32(want), kit.MustLink(t, tp.Pod, s).Attributes.MTU, "the bond's MTU reaches %s", s)
					}
				}
				require.NoError(t, e.check(a), "CHECK agrees with the kernel")
				require.NoError(t, e.del(a))
			})
		}
	}
	// Every (option, accepting mode) pair was read back.
	var missing []string
	for _, r := range rules {
		if r.Kernel == "" {
			continue
		}
		for _, m := range r.Modes {
			if !covered[r.Key+"/"+m.String()] {
				missing = append(missing, r.Key+"/"+m.String())
			}
		}
	}
	assert.Empty(t, missing, "option/mode pairs not read back from the kernel")
}

// hostConf is a config over the VM's two NICs on the host, so a refusal
// can be checked to change nothing on the host.
func hostConf(mode string, opts map[string]any) string {
	c := map[string]any{"cniVersion": "1.1.0", "name": "refused", "type": "bond", "mode": mode, "miimon": 100,
		"links": []string{hostNIC1, hostNIC2}}
	for k, v := range opts {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// requireRefusedUntouched runs ADD with conf against the host NICs and
// requires a CNI error with code and every one of wants in its message, the
// host NICs as they were, nothing in the pod, no record.
func requireRefusedUntouched(t *testing.T, e *cniEnv, pod, conf string, code uint, wants ...string) {
	t.Helper()
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	id := fmt.Sprintf("refused%d", ctrSeq.Add(1))
	out, stderr, rc := e.execBond(map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": id, "CNI_NETNS": pod, "CNI_IFNAME": "net1"}, conf)
	require.Equal(t, 1, rc, "ADD must fail: %s %s", out, stderr)
	ce := cniError(t, out)
	assert.Equal(t, code, ce.Code, "code of %q", ce.Msg)
	for _, w := range wants {
		assert.Contains(t, ce.Msg, w)
	}
	assert.Equal(t, before1, snap(t, "", hostNIC1), "eth1000 untouched")
	assert.Equal(t, before2, snap(t, "", hostNIC2), "eth1001 untouched")
	assert.Equal(t, []string{"lo"}, kit.Links(t, pod), "nothing in the pod")
	_, err := os.Stat(filepath.Join(e.stateDir, id+"_net1.json"))
	assert.True(t, os.IsNotExist(err), "no attachment record")
}

func TestOptionsRefusedInModesThatDoNotAcceptThem(t *testing.T) {
	e := newCNI(t)
	pod := kit.NewNetns(t, "pod")
	n := 0
	for _, r := range domain.OptionRules() {
		for _, m := range domain.AllModes() {
			if r.AcceptsMode(m) {
				continue
			}
			c, ok := caseFor(r.Key, m)
			require.True(t, ok, "no test value for %s", r.Key)
			n++
			t.Run(r.Key+"/"+m.String(), func(t *testing.T) {
				requireRefusedUntouched(t, e, pod, hostConf(m.String(), map[string]any{r.Key: c.value}),
					uint(domain.CodeInvalidConfig), r.Key+": ", "not allowed in mode "+m.String())
			})
		}
	}
	t.Run("tlbDynamicLb 0 in balance-alb", func(t *testing.T) {
		requireRefusedUntouched(t, e, pod, hostConf("balance-alb", map[string]any{"tlbDynamicLb": 0}),
			uint(domain.CodeInvalidConfig), "tlbDynamicLb: 0 is not possible in mode balance-alb")
	})
	t.Logf("%d option/mode refusals checked", n+1)
	assert.Greater(t, n, 40, "the table drives many refusals")
}
