package domain

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func spec(t *testing.T, data []byte, ifname string) (BondSpec, error) {
	t.Helper()
	c, err := ParseConfig(data)
	require.NoError(t, err, "%s", data)
	return c.Spec(ifname)
}

func TestSpecSeedHostActiveBackup(t *testing.T) {
	s, err := spec(t, readFixture(t, "seed-host-active-backup.json"), "net1")
	require.NoError(t, err)
	assert.Equal(t, BondSpec{
		Name: "net1",
		Options: BondOptions{
			Mode:        ModeActiveBackup,
			Miimon:      u32(100),
			FailOverMac: ptr(FailOverMacActive),
		},
		Links: []string{"eth1000", "eth1001"},
	}, s)
}

func TestSpecSeedSRIOV8023AD(t *testing.T) {
	s, err := spec(t, readFixture(t, "seed-sriov-8023ad.json"), "bond0")
	require.NoError(t, err)
	assert.Equal(t, BondSpec{
		Name:             "bond0",
		Options:          BondOptions{Mode: Mode8023AD, Miimon: u32(100)},
		Links:            []string{"net1", "net2"},
		LinksInContainer: true,
	}, s)
}

func ptr[T any](v T) *T { return &v }

func TestSpecFull(t *testing.T) {
	s, err := spec(t, readFixture(t, "mode-active-backup.json"), "bond0")
	require.NoError(t, err)
	assert.Equal(t, BondSpec{
		Name: "bond0",
		Options: BondOptions{
			Mode:            ModeActiveBackup,
			ArpInterval:     u32(250),
			ArpIPTargets:    []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")},
			ArpValidate:     ptr(ArpValidate(3)),
			FailOverMac:     ptr(FailOverMacActive),
			Primary:         "net1",
			PrimaryReselect: ptr(PrimaryReselect(1)),
			NumGratArp:      u8(3),
		},
		Links:            []string{"net1", "net2"},
		LinksInContainer: true,
	}, s)

	s, err = spec(t, readFixture(t, "mode-802.3ad.json"), "bond0")
	require.NoError(t, err)
	assert.Equal(t, BondOptions{
		Mode: Mode8023AD, Miimon: u32(100), LacpRate: ptr(LacpRate(1)), XmitHashPolicy: ptr(XmitHashPolicy(1)),
		AdSelect: ptr(AdSelect(1)), MinLinks: u32(1),
	}, s.Options)
	assert.Equal(t, 9000, s.MTU)

	s, err = spec(t, readFixture(t, "mode-broadcast.json"), "bond0")
	require.NoError(t, err)
	assert.Equal(t, "02:00:00:00:00:01", s.MAC.String())
	assert.Equal(t, ptr(FailOverMacNone), s.Options.FailOverMac)

	s, err = spec(t, conf(map[string]any{"allowUnsafeHostLinks": true}), "bond0")
	require.NoError(t, err)
	assert.True(t, s.AllowUnsafeHostLinks)
}

func TestSpecDoesNotAliasConfig(t *testing.T) {
	c, err := ParseConfig(conf(map[string]any{"runtimeConfig": map[string]any{"mac": "02:00:00:00:00:01"}}))
	require.NoError(t, err)
	s, err := c.Spec("bond0")
	require.NoError(t, err)
	*s.Options.Miimon = 7
	s.Links[0] = "x"
	s.MAC[5] = 9
	assert.Equal(t, u32(100), c.Miimon)
	assert.Equal(t, "net1", c.Links[0])
	assert.Equal(t, "02:00:00:00:00:01", c.RuntimeMAC.String())
}

func TestSpecEveryMode(t *testing.T) {
	for _, m := range AllModes() {
		t.Run(m.String(), func(t *testing.T) {
			s, err := spec(t, conf(map[string]any{"mode": m.String()}), "bond0")
			require.NoError(t, err)
			assert.Equal(t, m, s.Options.Mode)
			assert.Equal(t, u32(100), s.Options.Miimon)

			s, err = spec(t, conf(map[string]any{"mode": m.String(), "miimon": "100", "failOverMac": 0}), "bond0")
			require.NoError(t, err, "failOverMac 0 is accepted in every mode")
			assert.Equal(t, ptr(FailOverMacNone), s.Options.FailOverMac)
		})
	}
}

func TestSpecIfName(t *testing.T) {
	s, err := spec(t, conf(map[string]any{"ifname": "bond9"}), "net1x")
	require.NoError(t, err)
	assert.Equal(t, "net1x", s.Name, "CNI_IFNAME wins")

	s, err = spec(t, conf(map[string]any{"ifname": "bond9"}), "")
	require.NoError(t, err)
	assert.Equal(t, "bond9", s.Name, "config ifname when CNI_IFNAME is empty")

	_, err = spec(t, conf(nil), "")
	require.Error(t, err)
	assert.Equal(t, CodeInvalidEnv, CodeOf(err, 0))
	assert.Contains(t, err.Error(), "CNI_IFNAME")

	_, err = spec(t, conf(nil), "a/b")
	require.Error(t, err)
	assert.Equal(t, CodeInvalidEnv, CodeOf(err, 0))
	assert.Contains(t, err.Error(), `CNI_IFNAME: "a/b"`)

	_, err = spec(t, conf(map[string]any{"ifname": "a-very-long-interface"}), "")
	require.Error(t, err)
	assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
	assert.Contains(t, err.Error(), `ifname: "a-very-long-interface"`)
	assert.Contains(t, err.Error(), "more than 15")
}

func TestSpecRejects(t *testing.T) {
	twoLinks := func(a, b string) []string { return []string{a, b} }
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("eth%d", i)
		}
		return out
	}
	ab, rr, xor, bc, ad, tlb, alb := "active-backup", "balance-rr", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"
	arp := func(mode string) map[string]any {
		return map[string]any{"mode": mode, "miimon": nil, "arpInterval": 100, "arpIpTargets": []string{"192.0.2.1"}}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name   string
		over   map[string]any
		ifname string
		want   []string
	}{
		// identity
		{"name missing", map[string]any{"name": nil}, "", []string{"name: missing"}},
		{"name bad", map[string]any{"name": "-bond"}, "", []string{"name", `"-bond"`, "letter or digit"}},
		{"name space", map[string]any{"name": "my bond"}, "", []string{"name", `"my bond"`}},

		// mode
		{"mode missing", map[string]any{"mode": nil}, "", []string{"mode: missing", "balance-rr, active-backup"}},
		{"mode bogus", map[string]any{"mode": "bogus"}, "", []string{"mode: ", `"bogus" is not a bonding mode`, "allowed: balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb"}},
		{"mode case", map[string]any{"mode": "Active-Backup"}, "", []string{"mode", `"Active-Backup"`}},

		// links
		{"links missing", map[string]any{"links": nil}, "", []string{"links: missing", "at least 2"}},
		{"links one", map[string]any{"links": []string{"net1"}}, "", []string{"links: 1 entry", `"net1"`, "at least 2"}},
		{"links too many", map[string]any{"links": many(33)}, "", []string{"links: 33 entries; at most 32 allowed"}},
		{"links dup", map[string]any{"links": []string{"net1", "net2", "net1"}}, "", []string{"links[2]", `"net1"`, "twice", "links[0]"}},
		{"links is bond", map[string]any{"links": twoLinks("net1", "bond0")}, "bond0", []string{"links[1]", `"bond0"`, "bond's own name", "CNI_IFNAME"}},
		{"links is legacy ifname", map[string]any{"links": twoLinks("net1", "bond0"), "ifname": "bond0"}, "", []string{"links[1]", `"bond0"`, "(ifname)"}},
		{"link empty", map[string]any{"links": twoLinks("net1", "")}, "", []string{"links[1]", `""`, "empty"}},
		{"link long", map[string]any{"links": twoLinks("net1", "abcdefghijklmnop")}, "", []string{"links[1]", `"abcdefghijklmnop"`, "16 bytes"}},
		{"link slash", map[string]any{"links": twoLinks("net1", "a/b")}, "", []string{"links[1]", `"a/b"`, `'/'`}},
		{"link colon", map[string]any{"links": twoLinks("eth0:1", "net1")}, "", []string{"links[0]", `"eth0:1"`, `':'`}},
		{"link space", map[string]any{"links": twoLinks("net 1", "net2")}, "", []string{"links[0]", `"net 1"`, "0x20"}},
		{"link percent", map[string]any{"links": twoLinks("eth%d", "net2")}, "", []string{"links[0]", `"eth%d"`}},
		{"link dot", map[string]any{"links": twoLinks(".", "net2")}, "", []string{"links[0]", `"."`, "reserved"}},
		{"link dotdot", map[string]any{"links": twoLinks("..", "net2")}, "", []string{"links[0]", `".."`}},
		{"link non-ASCII", map[string]any{"links": twoLinks("nét1", "net2")}, "", []string{"links[0]", "0xc3"}},

		// monitoring
		{"miimon missing", map[string]any{"miimon": nil}, "", []string{"miimon: missing", "arpInterval"}},
		{"miimon missing 802.3ad", map[string]any{"miimon": nil, "mode": ad}, "", []string{"miimon: missing", "e.g. 100"}},
		{"miimon 0", map[string]any{"miimon": 0}, "", []string{"miimon: 0 disables link monitoring"}},
		{"miimon and arp", map[string]any{"arpInterval": 200, "arpIpTargets": []string{"192.0.2.1"}}, "", []string{"arpInterval", "200", "miimon 100", "only one"}},

		// ARP monitor
		{"arp in 802.3ad", arp(ad), "", []string{"arpInterval", "100", "mode 802.3ad", "balance-rr, active-backup, balance-xor, broadcast"}},
		{"arp in tlb", arp(tlb), "", []string{"arpInterval", "mode balance-tlb", "arpIpTargets", "[192.0.2.1]"}},
		{"arp in alb", arp(alb), "", []string{"arpInterval", "mode balance-alb"}},
		{"arpInterval 0 in 802.3ad", map[string]any{"mode": ad, "arpInterval": 0}, "", []string{"arpInterval: 0 is not allowed in mode 802.3ad"}},
		{"arpValidate in 802.3ad", map[string]any{"mode": ad, "arpValidate": "none"}, "", []string{"arpValidate", `"none"`, "mode 802.3ad"}},
		{"arpInterval without targets", map[string]any{"miimon": nil, "arpInterval": 100}, "", []string{"arpIpTargets: missing", "arpInterval 100"}},
		{"targets without arpInterval", map[string]any{"arpIpTargets": []string{"192.0.2.1"}}, "", []string{"arpIpTargets", "192.0.2.1", "arpInterval is 0"}},
		{"targets too many", with(arp(ab), "arpIpTargets", func() []string {
			var s []string
			for i := range 17 {
				s = append(s, fmt.Sprintf("192.0.2.%d", i+1))
			}
			return s
		}()), "", []string{"arpIpTargets: 17 entries; at most 16"}},
		{"target not IP", with(arp(ab), "arpIpTargets", []string{"gateway"}), "", []string{"arpIpTargets[0]", `"gateway"`, "not an IPv4"}},
		{"target IPv6", with(arp(rr), "arpIpTargets", []string{"2001:db8::1"}), "", []string{"arpIpTargets[0]", `"2001:db8::1"`, "not an IPv4"}},
		{"target 4in6", with(arp(rr), "arpIpTargets", []string{"::ffff:192.0.2.1"}), "", []string{"arpIpTargets[0]", "not an IPv4"}},
		{"target zero", with(arp(xor), "arpIpTargets", []string{"0.0.0.0"}), "", []string{"arpIpTargets[0]", `"0.0.0.0"`}},
		{"target broadcast", with(arp(bc), "arpIpTargets", []string{"255.255.255.255"}), "", []string{"arpIpTargets[0]", `"255.255.255.255"`}},
		{"target multicast", with(arp(ab), "arpIpTargets", []string{"224.0.0.1"}), "", []string{"arpIpTargets[0]", `"224.0.0.1"`, "multicast"}},
		{"target dup", with(arp(ab), "arpIpTargets", []string{"192.0.2.1", "192.0.2.1"}), "", []string{"arpIpTargets[1]", `"192.0.2.1"`, "twice"}},
		{"arpValidate with miimon", map[string]any{"arpValidate": "all"}, "", []string{"arpValidate", `"all"`, "arpInterval"}},

		// delays
		{"updelay no miimon", with(arp(ab), "updelay", 200), "", []string{"updelay", "200", "miimon > 0"}},
		{"downdelay 0 no miimon", with(arp(ab), "downdelay", 0), "", []string{"downdelay", "miimon > 0"}},
		{"updelay not multiple", map[string]any{"updelay": 150}, "", []string{"updelay 150 is not a multiple of miimon 100; use 100 or 200"}},
		{"downdelay not multiple", map[string]any{"downdelay": "50"}, "", []string{"downdelay 50 is not a multiple of miimon 100; use 0 or 100"}},
		{"updelay near INT_MAX", map[string]any{"miimon": 1000000000, "updelay": 2147483647}, "", []string{"updelay 2147483647", "use 2000000000"}},

		// mode-bound options
		{"lacpRate in balance-xor", map[string]any{"mode": xor, "lacpRate": "fast"}, "", []string{"lacpRate", `"fast"`, "mode balance-xor", "802.3ad"}},
		{"adSelect in active-backup", map[string]any{"adSelect": 1}, "", []string{"adSelect", `"bandwidth"`, "mode active-backup"}},
		{"minLinks in balance-tlb", map[string]any{"mode": tlb, "minLinks": 1}, "", []string{"minLinks", "1", "mode balance-tlb", "802.3ad"}},
		{"primary in 802.3ad", map[string]any{"mode": ad, "primary": "net1"}, "", []string{"primary", `"net1"`, "mode 802.3ad", "active-backup, balance-tlb, balance-alb"}},
		{"primary in balance-rr", map[string]any{"mode": rr, "primary": "net1"}, "", []string{"primary", "mode balance-rr"}},
		{"primaryReselect in balance-xor", map[string]any{"mode": xor, "primaryReselect": "better"}, "", []string{"primaryReselect", `"better"`, "mode balance-xor"}},
		{"primary not a link", map[string]any{"primary": "eth9"}, "", []string{"primary", `"eth9"`, "not one of the links", "net1, net2"}},
		{"tlbDynamicLb in active-backup", map[string]any{"tlbDynamicLb": 1}, "", []string{"tlbDynamicLb", "1", "mode active-backup", "balance-tlb, balance-alb"}},
		{"tlbDynamicLb 0 in alb", map[string]any{"mode": alb, "tlbDynamicLb": 0}, "", []string{"tlbDynamicLb: 0", "balance-alb", "forces 1"}},
		{"packetsPerSlave in balance-xor", map[string]any{"mode": xor, "packetsPerSlave": 3}, "", []string{"packetsPerSlave", "3", "mode balance-xor", "balance-rr"}},
		{"numGratArp in 802.3ad", map[string]any{"mode": ad, "numGratArp": 2}, "", []string{"numGratArp", "2", "mode 802.3ad", "active-backup"}},

		// MAC
		{"mac with failOverMac active", map[string]any{"failOverMac": "active", "runtimeConfig": map[string]any{"mac": "02:00:00:00:00:01"}}, "",
			[]string{"runtimeConfig.mac", "02:00:00:00:00:01", "failOverMac active", "ignores"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ifname := tt.ifname
			if ifname == "" && tt.over["ifname"] == nil {
				ifname = "bond0"
			}
			_, err := spec(t, conf(tt.over), ifname)
			require.Error(t, err)
			assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0), err.Error())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSpecAccepts(t *testing.T) {
	tests := []struct {
		name string
		over map[string]any
	}{
		{"failOverMac follow with mac", map[string]any{"failOverMac": "follow", "runtimeConfig": map[string]any{"mac": "02:00:00:00:00:01"}}},
		{"mac in 802.3ad", map[string]any{"mode": "802.3ad", "runtimeConfig": map[string]any{"mac": "02:00:00:00:00:01"}}},
		{"delays multiple", map[string]any{"updelay": 0, "downdelay": 300}},
		{"tlbDynamicLb 1 in alb", map[string]any{"mode": "balance-alb", "tlbDynamicLb": true}},
		{"tlbDynamicLb 0 in tlb", map[string]any{"mode": "balance-tlb", "tlbDynamicLb": "0"}},
		{"arp in broadcast", map[string]any{"mode": "broadcast", "miimon": nil, "arpInterval": 500, "arpIpTargets": []string{"192.0.2.1", "198.51.100.1"}}},
		{"arpValidate none with miimon", map[string]any{"arpValidate": "none"}},
		{"arpInterval 0 with miimon", map[string]any{"arpInterval": 0}},
		{"16 targets", map[string]any{"miimon": nil, "arpInterval": 100, "arpIpTargets": func() []string {
			var s []string
			for i := range 16 {
				s = append(s, fmt.Sprintf("10.0.0.%d", i+1))
			}
			return s
		}()}},
		{"32 links", map[string]any{"links": func() []string {
			var s []string
			for i := range 32 {
				s = append(s, fmt.Sprintf("eth%d", i))
			}
			return s
		}()}},
		{"15-byte names", map[string]any{"links": []string{"abcdefghijklmno", "net2"}}},
		{"allSlavesActive any mode", map[string]any{"mode": "broadcast", "allSlavesActive": 1}},
		{"primary in tlb", map[string]any{"mode": "balance-tlb", "primary": "net2", "primaryReselect": "failure"}},
		{"network name chars", map[string]any{"name": "a.b_c-1"}},
		{"no type", map[string]any{"type": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := spec(t, conf(tt.over), "bond0")
			require.NoError(t, err)
		})
	}
}

func TestSpecReportsAllProblems(t *testing.T) {
	_, err := spec(t, conf(map[string]any{"name": "", "mode": "bogus", "links": []string{"a"}, "miimon": nil}), "bond0")
	require.Error(t, err)
	for _, w := range []string{"name: missing", `mode: "bogus"`, "links: 1 entry"} {
		assert.Contains(t, err.Error(), w)
	}

	links := make([]string, 30)
	for i := range links {
		links[i] = "bad/" + fmt.Sprint(i)
	}
	_, err = spec(t, conf(map[string]any{"links": links}), "bond0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "and 20 more")
}

func TestSpecConfigBuiltInCode(t *testing.T) {
	c := &Config{Name: "n", Mode: "active-backup", Miimon: u32(IntMax + 1), MTU: 10, Links: []string{"a", "b"}, AllSlavesActive: u8(2)}
	_, err := c.Spec("bond0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mtu: 10")
	assert.Contains(t, err.Error(), "miimon: 2147483648")
	assert.Contains(t, err.Error(), "allSlavesActive: 2")
}

// sample holds each key's Sample, decoded.
var sample = func() map[string]any {
	m := map[string]any{}
	for _, r := range rules() {
		var v any
		if err := json.Unmarshal([]byte(r.Sample), &v); err == nil {
			m[r.Key] = v
		}
	}
	return m
}()

// otherSample is a second value for the keys a valid config cannot
// simply leave out.
var otherSample = map[string]any{
	"links": []string{"net3", "net4"}, "miimon": 200, "arpInterval": 200, "arpIpTargets": []string{"192.0.2.2"},
}

func TestOptionRulesTable(t *testing.T) {
	rs := OptionRules()
	require.Len(t, rs, len(rules()))
	seen := map[string]bool{}
	for _, r := range rs {
		t.Run(r.Key, func(t *testing.T) {
			assert.False(t, seen[r.Key], "duplicate key")
			seen[r.Key] = true
			assert.NotEmpty(t, r.Modes)
			assert.NotEmpty(t, r.Default)
			assert.NotEmpty(t, r.Type)
			assert.NotEmpty(t, r.Values)
			assert.NotEmpty(t, r.Description)
			assert.Contains(t, sample, r.Key, "test sample value missing")
			for _, m := range r.Modes {
				assert.Contains(t, AllModes(), m)
			}
		})
	}
	// The copies are the caller's.
	rs[0].Modes[0] = 99
	assert.NotEqual(t, Mode(99), OptionRules()[0].Modes[0])

	byKey := map[string]OptionRule{}
	for _, r := range rs {
		byKey[r.Key] = r
	}
	for _, m := range AllModes() {
		for _, k := range []string{"arpInterval", "arpIpTargets", "arpValidate"} {
			assert.Equal(t, m.SupportsARPMonitor(), byKey[k].AcceptsMode(m), "%s in %s", k, m)
		}
		for _, k := range []string{"primary", "primaryReselect"} {
			assert.Equal(t, m.UsesActiveSlave(), byKey[k].AcceptsMode(m), "%s in %s", k, m)
		}
	}
	assert.Equal(t, "none", byKey["failOverMac"].AnyModeValue)
	assert.Equal(t, "fail_over_mac", byKey["failOverMac"].Kernel)
}

// TestOptionRulesDriveValidation sets every key in every mode: accepted
// modes give a valid spec carrying the option, the others an error that
// names the key, its value and the mode.
func TestOptionRulesDriveValidation(t *testing.T) {
	for _, r := range OptionRules() {
		for _, m := range AllModes() {
			t.Run(r.Key+"/"+m.String(), func(t *testing.T) {
				over := map[string]any{"mode": m.String(), r.Key: sample[r.Key]}
				switch r.Key {
				case "mode":
					over["mode"] = m.String()
				case "arpInterval", "arpIpTargets", "arpValidate":
					over["miimon"] = nil
					over["arpInterval"] = 100
					over["arpIpTargets"] = []string{"192.0.2.1"}
				case "vlanMtu", "vlanProtocol":
					over["vlan"] = 100
				case "tlbDynamicLb":
					if m == ModeBalanceALB {
						over[r.Key] = 1 // balance-alb requires 1
					}
				}
				c, err := ParseConfig(conf(over))
				require.NoError(t, err)
				s, err := c.Spec("bond0")
				if r.AcceptsMode(m) {
					require.NoError(t, err)
					assert.Equal(t, m, s.Options.Mode)
					if r.Key == "mode" {
						return
					}
					// The value reaches the spec: without it (or, for a
					// key the config needs, with another value) the spec
					// differs.
					if v, ok := otherSample[r.Key]; ok {
						over[r.Key] = v
					} else {
						over[r.Key] = nil
					}
					c, err := ParseConfig(conf(over))
					require.NoError(t, err)
					base, err := c.Spec("bond0")
					require.NoError(t, err)
					assert.NotEqual(t, base, s, "%s=%v does not reach the spec", r.Key, sample[r.Key])
					return
				}
				require.Error(t, err)
				assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
				msg := err.Error()
				assert.Contains(t, msg, r.Key+": ")
				assert.Contains(t, msg, "mode "+m.String())
				assert.Contains(t, msg, modeList(r.Modes))
				var shown string
				for _, x := range rules() {
					if x.Key == r.Key {
						shown = x.show(c)
					}
				}
				assert.Contains(t, msg, shown)
			})
		}
	}
}

func TestOptionRulesKernelNamesUnique(t *testing.T) {
	var names []string
	for _, r := range OptionRules() {
		if r.Kernel != "" {
			names = append(names, r.Kernel)
		}
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	assert.Equal(t, len(sorted), len(slices.Compact(sorted)), strings.Join(names, ","))
}

// bond-cni sends failOverMac and xmitHashPolicy whatever the mode, and the
// kernel accepts them everywhere; configs written for it must keep working.
func TestSpecAcceptsBondCNICompatibleOptionsInEveryMode(t *testing.T) {
	for _, m := range AllModes() {
		conf := fmt.Sprintf(`{"cniVersion":"0.3.1","name":"n","type":"bond","mode":%q,"miimon":"100","failOverMac":1,"xmitHashPolicy":"layer3+4","links":[{"name":"a"},{"name":"b"}]}`, m)
		cfg, err := ParseConfig([]byte(conf))
		require.NoError(t, err, m.String())
		spec, err := cfg.Spec("bond0")
		require.NoError(t, err, m.String())
		require.NotNil(t, spec.Options.FailOverMac)
		require.Equal(t, FailOverMacActive, *spec.Options.FailOverMac)
		require.NotNil(t, spec.Options.XmitHashPolicy)
	}
}
