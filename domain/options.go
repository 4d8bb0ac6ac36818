package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// IntMax is the largest value the kernel accepts for its millisecond and
// count options (INT_MAX, although the netlink attributes are u32).
const IntMax = 2147483647

// MaxLinks is the most links one bond may be given in a config.
const MaxLinks = 32

// MaxArpIPTargets is the kernel's limit on arp_ip_target (BOND_MAX_ARP_TARGETS).
const MaxArpIPTargets = 16

// OptionRule describes one plugin config key: its kernel counterpart, the
// modes it is accepted in, and what values it takes. The same table drives
// parsing, validation and the README key table; its bonding options
// (BondOptionRows) also drive spec building, Drift, the debug API, the
// adapters' conversions and the tests.
type OptionRule struct {
	// Key is the JSON key in the network config.
	Key string
	// Kernel is the bonding option's sysfs name (the IFLA_BOND_* attribute
	// has the same meaning), or the link attribute ("mtu", "slaves"); empty
	// for plugin-only keys.
	Kernel string
	// Modes lists the modes that accept the key. A key set in any other mode
	// is refused before anything on the node changes.
	Modes []Mode
	// AnyModeValue, if not empty, is the value accepted in every mode
	// because it changes nothing there (failOverMac "none").
	AnyModeValue string
	// Default is what applies when the key is absent.
	Default string
	// Type is the JSON type(s) accepted.
	Type string
	// Values is the accepted range or the accepted names.
	Values string
	// Description says what the key does.
	Description string
	// Sample is a valid value other than the default, as JSON: the value
	// the unit, contract and real-kernel tests set for the key.
	Sample string
}

// rule is an OptionRule with the functions that decode and inspect it.
type rule struct {
	OptionRule
	// decode stores raw (never JSON null) into c.
	decode func(c *Config, key string, raw json.RawMessage) error
	// present reports whether the key was given.
	present func(c *Config) bool
	// show renders the given value for messages.
	show func(c *Config) string
	// neutral reports whether the given value is AnyModeValue.
	neutral func(c *Config) bool
	// bond binds a bonding option to its BondOptions field (nil for the
	// other keys); see BondOption.
	bond bondField
}

var (
	allModes  = AllModes()
	arpModes  = []Mode{ModeBalanceRR, ModeActiveBackup, ModeBalanceXOR, ModeBroadcast}
	activeSet = []Mode{ModeActiveBackup, ModeBalanceTLB, ModeBalanceALB}
	tlbModes  = []Mode{ModeBalanceTLB, ModeBalanceALB}
	adModes   = []Mode{Mode8023AD}
	abModes   = []Mode{ModeActiveBackup}
	rrModes   = []Mode{ModeBalanceRR}
)

const (
	msValues  = "0..2147483647"
	intOrStr  = "integer (number or numeric string)"
	msType    = "integer in ms (number or numeric string)"
	enumType  = "string name, or its number"
	flagType  = "0/1 (number, numeric string) or boolean"
	flagValue = "0, 1"
)

// rules is the option table, in the order the README lists the keys (the
// README's table is generated from it: see domain/readme_test.go). It is
// built on first use, not at package init, which every exec of the plugin
// (VERSION included) would pay.
var rules = sync.OnceValue(func() []rule {
	return []rule{
		{
			OptionRule: OptionRule{Key: "mode", Kernel: "mode", Modes: allModes, Default: "none: required", Type: "string",
				Values: ModeNames(), Description: "Bonding mode.", Sample: `"active-backup"`},
			decode:  decodeMode,
			present: func(c *Config) bool { return c.Mode != "" },
			show:    func(c *Config) string { return quote(c.Mode) },
		},
		{
			OptionRule: OptionRule{Key: "links", Kernel: "slaves", Modes: allModes, Default: "none: required", Type: `array of {"name": "..."} objects or of strings`,
				Values: fmt.Sprintf("2..%d distinct interface names", MaxLinks), Description: "Links to enslave, in order; looked up on the host, or in the pod with linksInContainer.", Sample: `["net1", "net2"]`},
			decode:  decodeLinks,
			present: func(c *Config) bool { return len(c.Links) > 0 },
			show:    func(c *Config) string { return clip("[" + strings.Join(c.Links, ", ") + "]") },
		},
		{
			OptionRule: OptionRule{Key: "linksInContainer", Modes: allModes, Default: "false", Type: `boolean (or "true"/"false")`,
				Values: "true, false", Description: "The links already sit in the pod's netns (SR-IOV VFs from earlier attachments); false takes them from the host.", Sample: `true`},
			decode: func(c *Config, k string, raw json.RawMessage) (err error) {
				c.LinksInContainer, err = decodeBool(k, raw, true)
				return
			},
			present: func(c *Config) bool { return c.LinksInContainer },
			show:    func(c *Config) string { return strconv.FormatBool(c.LinksInContainer) },
		},
		{
			OptionRule: OptionRule{Key: "allowUnsafeHostLinks", Modes: allModes, Default: "false", Type: "boolean",
				Values: "true, false", Description: "Explicit opt-in to take host links that look like they carry the node's own traffic (default route, global address; see Host-link safety); refused (code 7) unless the node settings allow it.", Sample: `true`},
			decode: func(c *Config, k string, raw json.RawMessage) (err error) {
				c.AllowUnsafeHostLinks, err = decodeBool(k, raw, false)
				return
			},
			present: func(c *Config) bool { return c.AllowUnsafeHostLinks },
			show:    func(c *Config) string { return strconv.FormatBool(c.AllowUnsafeHostLinks) },
		},
		{
			OptionRule: OptionRule{Key: "requireDistinctPFs", Modes: allModes, Default: "false: a warning", Type: `boolean (or "true"/"false")`,
				Values: "true, false", Description: "Refuse (code 105) links that are SR-IOV VFs of the same PF (no redundancy: one PF failure takes both); false only logs a warning (see SR-IOV VFs).", Sample: `true`},
			decode: func(c *Config, k string, raw json.RawMessage) (err error) {
				c.RequireDistinctPFs, err = decodeBool(k, raw, true)
				return
			},
			present: func(c *Config) bool { return c.RequireDistinctPFs },
			show:    func(c *Config) string { return strconv.FormatBool(c.RequireDistinctPFs) },
		},
		{
			OptionRule: OptionRule{Key: "mtu", Kernel: "mtu", Modes: allModes, Default: "0: keep the links' MTU (the smallest)", Type: intOrStr,
				Values: "0, or 68..65535", Description: "MTU of the bond; the kernel pushes it to every link. bond-cni assumed 1500; the links' MTU is kept when mtu is omitted.", Sample: `1400`},
			decode: func(c *Config, k string, raw json.RawMessage) error {
				v, err := decodeUint(k, raw, 65535, "0 (keep the links' MTU) or an integer 68..65535")
				if err == nil && v > 0 && v < 68 {
					err = Errorf(CodeInvalidConfig, "%s: got %s %s, want 0 (keep the links' MTU) or an integer 68..65535", k, kindOf(raw), showRaw(raw))
				}
				c.MTU = int(v)
				return err
			},
			present: func(c *Config) bool { return c.MTU != 0 },
			show:    func(c *Config) string { return strconv.Itoa(c.MTU) },
		},
		u32Rule("miimon", "miimon", allModes, "none: miimon or arpInterval is required", msType, msValues,
			"MII link monitoring interval in ms; 0 disables it. Required unless arpInterval is set.",
			func(c *Config) **uint32 { return &c.Miimon }, func(o *BondOptions) **uint32 { return &o.Miimon }).sample(`50`),
		u32Rule("updelay", "updelay", allModes, "0", msType, msValues+", a multiple of miimon",
			"Wait before enabling a link after it comes up, in ms. Needs miimon; a value that is not a multiple of miimon is refused (the kernel would round it down silently).",
			func(c *Config) **uint32 { return &c.UpDelay }, func(o *BondOptions) **uint32 { return &o.UpDelay }).sample(`200`),
		u32Rule("downdelay", "downdelay", allModes, "0", msType, msValues+", a multiple of miimon",
			"Wait before disabling a link after it goes down, in ms. Needs miimon, and a multiple of it.",
			func(c *Config) **uint32 { return &c.DownDelay }, func(o *BondOptions) **uint32 { return &o.DownDelay }).sample(`300`),
		u32Rule("arpInterval", "arp_interval", arpModes, "0", msType, msValues,
			"ARP link monitoring interval in ms, instead of miimon. Needs arpIpTargets.",
			func(c *Config) **uint32 { return &c.ArpInterval }, func(o *BondOptions) **uint32 { return &o.ArpInterval }).sample(`250`),
		{
			OptionRule: OptionRule{Key: "arpIpTargets", Kernel: "arp_ip_target", Modes: arpModes, Default: "none", Type: "array of IPv4 address strings",
				Values: fmt.Sprintf("1..%d distinct unicast IPv4 addresses", MaxArpIPTargets), Description: "Addresses the ARP monitor probes. Needs arpInterval.", Sample: `["192.0.2.1", "198.51.100.7"]`},
			decode:  decodeStrings(func(c *Config) *[]string { return &c.ArpIPTargets }),
			present: func(c *Config) bool { return len(c.ArpIPTargets) > 0 },
			bond:    arpTargetsField{},
			show:    func(c *Config) string { return clip("[" + strings.Join(c.ArpIPTargets, ", ") + "]") },
		},
		enumRule("arpValidate", "arp_validate", arpModes, "", arpValidateNames,
			"Validate ARP probes and replies. Needs arpInterval.", func(c *Config) **ArpValidate { return &c.ArpValidate }, func(o *BondOptions) **ArpValidate { return &o.ArpValidate }).sample(`"filter_active"`),
		anyModeValue(enumRule("failOverMac", "fail_over_mac", allModes, "none", failOverMacNames,
			"How the bond's and links' MACs follow failover; SR-IOV VFs need active (1). Acts in active-backup only; accepted in every mode, as the kernel and bond-cni accept it.", func(c *Config) **FailOverMac { return &c.FailOverMac }, func(o *BondOptions) **FailOverMac { return &o.FailOverMac }),
			"none", func(c *Config) bool { return *c.FailOverMac == FailOverMacNone }).sample(`"follow"`),
		enumRule("xmitHashPolicy", "xmit_hash_policy", allModes, "", xmitHashPolicyNames,
			"Transmit hash policy for choosing a link. Used by balance-xor, 802.3ad and balance-tlb/alb; accepted in every mode, as the kernel and bond-cni accept it.", func(c *Config) **XmitHashPolicy { return &c.XmitHashPolicy }, func(o *BondOptions) **XmitHashPolicy { return &o.XmitHashPolicy }).sample(`"layer2+3"`),
		enumRule("lacpRate", "lacp_rate", adModes, "", lacpRateNames,
			"Rate at which the partner is asked to send LACPDUs.", func(c *Config) **LacpRate { return &c.LacpRate }, func(o *BondOptions) **LacpRate { return &o.LacpRate }).sample(`"fast"`),
		{
			OptionRule: OptionRule{Key: "primary", Kernel: "primary", Modes: activeSet, Default: "none", Type: "string",
				Values: "one of the links", Description: "Link preferred as the active one.", Sample: `"net2"`},
			decode: func(c *Config, k string, raw json.RawMessage) (err error) {
				c.Primary, err = decodeString(k, raw)
				return
			},
			present: func(c *Config) bool { return c.Primary != "" },
			bond:    primaryField{},
			show:    func(c *Config) string { return quote(c.Primary) },
		},
		enumRule("primaryReselect", "primary_reselect", activeSet, "", primaryReselectNames,
			"When the primary becomes active again after it recovers.", func(c *Config) **PrimaryReselect { return &c.PrimaryReselect }, func(o *BondOptions) **PrimaryReselect { return &o.PrimaryReselect }).sample(`"failure"`),
		u32Rule("minLinks", "min_links", adModes, "0", intOrStr, msValues,
			"Links that must be up before the bond reports carrier.",
			func(c *Config) **uint32 { return &c.MinLinks }, func(o *BondOptions) **uint32 { return &o.MinLinks }).sample(`2`),
		enumRule("adSelect", "ad_select", adModes, "", adSelectNames,
			"802.3ad aggregator selection logic.", func(c *Config) **AdSelect { return &c.AdSelect }, func(o *BondOptions) **AdSelect { return &o.AdSelect }).sample(`"count"`),
		u8Rule("numGratArp", "num_grat_arp", abModes, "1", intOrStr, "0..255", 255,
			"Peer notifications (gratuitous ARP, unsolicited NA) sent after a failover.",
			func(c *Config) **uint8 { return &c.NumGratArp }, func(o *BondOptions) **uint8 { return &o.NumGratArp }).sample(`5`),
		u32RuleMax("packetsPerSlave", "packets_per_slave", rrModes, "1", intOrStr, "0..65535", 65535,
			"Packets sent on a link before moving to the next; 0 picks a random link.",
			func(c *Config) **uint32 { return &c.PacketsPerSlave }, func(o *BondOptions) **uint32 { return &o.PacketsPerSlave }).sample(`7`),
		u8Rule("allSlavesActive", "all_slaves_active", allModes, "0", flagType, flagValue, 1,
			"Deliver duplicate frames received on inactive links.", func(c *Config) **uint8 { return &c.AllSlavesActive }, func(o *BondOptions) **uint8 { return &o.AllSlavesActive }).sample(`1`),
		u8Rule("tlbDynamicLb", "tlb_dynamic_lb", tlbModes, "1", flagType, flagValue, 1,
			"Dynamic flow shuffling in balance-tlb (balance-alb requires 1).", func(c *Config) **uint8 { return &c.TLBDynamicLB }, func(o *BondOptions) **uint8 { return &o.TLBDynamicLB }).sample(`0`),
		{
			OptionRule: OptionRule{Key: "vlan", Modes: allModes, Default: "none: CNI_IFNAME is the bond", Type: intOrStr,
				Values: fmt.Sprintf("1..%d", MaxVLANID), Description: "Tag the attachment: CNI_IFNAME becomes an 8021q device with this VLAN id on top of the bond and gets IPAM's addresses; the bond is named after CNI_IFNAME with \"-bond\" appended (a hashed name when that exceeds 15 bytes). One VLAN per attachment; see Tagged networks.", Sample: `100`},
			decode: func(c *Config, k string, raw json.RawMessage) error {
				want := fmt.Sprintf("an integer 1..%d (the VLAN id; omit vlan for an untagged bond)", MaxVLANID)
				v, err := decodeUint(k, raw, MaxVLANID, want)
				if err == nil && v == 0 {
					err = gotErr(k, raw, want)
				}
				c.VLAN = int(v)
				return err
			},
			present: func(c *Config) bool { return c.VLAN != 0 },
			show:    func(c *Config) string { return strconv.Itoa(c.VLAN) },
		},
		{
			OptionRule: OptionRule{Key: "vlanMtu", Modes: allModes, Default: "0: the bond's MTU", Type: intOrStr,
				Values: "0, or 68..65535, at most the bond's MTU", Description: "MTU of the VLAN device. Needs vlan.", Sample: `1400`},
			decode: func(c *Config, k string, raw json.RawMessage) error {
				const want = "0 (the bond's MTU) or an integer 68..65535"
				v, err := decodeUint(k, raw, 65535, want)
				if err == nil && v > 0 && v < 68 {
					err = gotErr(k, raw, want)
				}
				c.VLANMTU = int(v)
				return err
			},
			present: func(c *Config) bool { return c.VLANMTU != 0 },
			show:    func(c *Config) string { return strconv.Itoa(c.VLANMTU) },
		},
		{
			OptionRule: OptionRule{Key: "vlanProtocol", Modes: allModes, Default: "802.1Q", Type: "string",
				Values: "802.1Q, 802.1ad", Description: "Tag protocol of the VLAN device: 802.1Q (C-tag, EtherType 0x8100) or 802.1ad (S-tag, 0x88a8). Needs vlan.", Sample: `"802.1ad"`},
			decode: func(c *Config, k string, raw json.RawMessage) error {
				s, err := decodeString(k, raw)
				p, ok := ParseVLANProtocol(s)
				if err != nil || !ok {
					return gotErr(k, raw, `"802.1Q" or "802.1ad"`)
				}
				c.VLANProtocol = p
				return nil
			},
			present: func(c *Config) bool { return c.VLANProtocol != 0 },
			show:    func(c *Config) string { return quote(c.VLANProtocol.String()) },
		},
	}
})

// decodeMode reads the mode name; a number gets a hint with the name.
func decodeMode(c *Config, key string, raw json.RawMessage) error {
	s, err := decodeString(key, raw)
	if err != nil {
		if n, nerr := decodeUint(key, raw, uint64(ModeBalanceALB), ""); nerr == nil && raw[0] != '"' {
			return gotErr(key, raw, fmt.Sprintf("a mode name: use %q", Mode(n).String()))
		}
		return gotErr(key, raw, "a mode name, one of "+ModeNames())
	}
	c.Mode = s
	return nil
}

// OptionRules returns the config key table: every plugin key with its
// kernel option, accepted modes, default, type and values. The slices are
// copies.
func OptionRules() []OptionRule {
	out := make([]OptionRule, len(rules()))
	for i, r := range rules() {
		out[i] = r.OptionRule
		out[i].Modes = slices.Clone(r.Modes)
	}
	return out
}

// AcceptsMode reports whether the key may be set in mode m.
func (r OptionRule) AcceptsMode(m Mode) bool { return slices.Contains(r.Modes, m) }

// sample sets the row's Sample.
func (r rule) sample(v string) rule {
	r.Sample = v
	return r
}

// anyModeValue marks the value of r that every mode accepts.
func anyModeValue(r rule, v string, neutral func(*Config) bool) rule {
	r.AnyModeValue, r.neutral = v, neutral
	return r
}

// u32Rule, u32RuleMax, u8Rule and enumRule make the rows of numeric
// bonding options: field is the Config field, opt the BondOptions field.
func u32Rule(key, kernel string, modes []Mode, def, typ, values, desc string, field func(*Config) **uint32, opt func(*BondOptions) **uint32) rule {
	return u32RuleMax(key, kernel, modes, def, typ, values, IntMax, desc, field, opt)
}

func u32RuleMax(key, kernel string, modes []Mode, def, typ, values string, max uint64, desc string, field func(*Config) **uint32, opt func(*BondOptions) **uint32) rule {
	r := rule{OptionRule: OptionRule{Key: key, Kernel: kernel, Modes: modes, Default: def, Type: typ, Values: values, Description: desc},
		bond: ptrField[uint32]{field, opt, uint32(max), nil}}
	want := "an integer " + fmt.Sprintf("0..%d", max)
	if strings.Contains(typ, "ms") {
		want += " (ms)"
	}
	r.decode = func(c *Config, k string, raw json.RawMessage) error {
		v, err := decodeUint(k, raw, max, want)
		if err != nil {
			return err
		}
		u := uint32(v)
		*field(c) = &u
		return nil
	}
	r.present = func(c *Config) bool { return *field(c) != nil }
	r.show = func(c *Config) string { return strconv.FormatUint(uint64(**field(c)), 10) }
	return r
}

func u8Rule(key, kernel string, modes []Mode, def, typ, values string, max uint64, desc string, field func(*Config) **uint8, opt func(*BondOptions) **uint8) rule {
	r := rule{OptionRule: OptionRule{Key: key, Kernel: kernel, Modes: modes, Default: def, Type: typ, Values: values, Description: desc},
		bond: ptrField[uint8]{field, opt, uint32(max), nil}}
	flag := max == 1
	r.decode = func(c *Config, k string, raw json.RawMessage) error {
		var v uint64
		var err error
		if flag {
			v, err = decodeFlag(k, raw)
		} else {
			v, err = decodeUint(k, raw, max, fmt.Sprintf("an integer 0..%d", max))
		}
		if err != nil {
			return err
		}
		u := uint8(v)
		*field(c) = &u
		return nil
	}
	r.present = func(c *Config) bool { return *field(c) != nil }
	r.show = func(c *Config) string { return strconv.FormatUint(uint64(**field(c)), 10) }
	return r
}

func enumRule[T ~uint8 | ~uint32](key, kernel string, modes []Mode, def string, table []enumName[T], desc string, field func(*Config) **T, opt func(*BondOptions) **T) rule {
	if def == "" {
		def = table[0].name
	}
	r := rule{OptionRule: OptionRule{Key: key, Kernel: kernel, Modes: modes, Default: def, Type: enumType,
		Values: fmt.Sprintf("%s (or 0..%d)", enumNames(table), len(table)-1), Description: desc},
		bond: ptrField[T]{field, opt, uint32(len(table) - 1), table}}
	r.decode = func(c *Config, k string, raw json.RawMessage) error {
		v, err := decodeEnum(k, raw, table)
		if err != nil {
			return err
		}
		*field(c) = &v
		return nil
	}
	r.present = func(c *Config) bool { return *field(c) != nil }
	r.show = func(c *Config) string { return strconv.Quote(enumString(table, **field(c))) }
	return r
}

func modeList(ms []Mode) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.String()
	}
	return strings.Join(names, ", ")
}
