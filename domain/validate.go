package domain

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// maxProblems caps how many problems one validation error lists.
const maxProblems = 10

// Spec validates the config for a bond named ifname (CNI_IFNAME; when empty
// the config's legacy "ifname" is used) and returns the bond to build. It
// checks every rule the kernel would enforce, and those it would silently
// ignore, so nothing on the node changes for a config that cannot work.
// All problems are reported at once, with CodeInvalidConfig; a missing or
// malformed CNI_IFNAME is CodeInvalidEnv.
func (c *Config) Spec(ifname string) (BondSpec, error) {
	return c.spec(ifname, newValidator(c))
}

// spec validates on top of the problems v already holds (ParseSpec's
// decoding problems), so every problem is reported at once.
func (c *Config) spec(ifname string, v *validator) (BondSpec, error) {
	ifKey := "CNI_IFNAME"
	if ifname == "" {
		ifname, ifKey = c.IfName, "ifname"
	}
	if ifname == "" {
		return BondSpec{}, Errorf(CodeInvalidEnv, `CNI_IFNAME: missing, and the config has no "ifname"; the runtime must set CNI_IFNAME to the bond's interface name in the pod`)
	}
	if why := badIfName(ifname); why != "" {
		if ifKey == "CNI_IFNAME" {
			return BondSpec{}, Errorf(CodeInvalidEnv, "%s: %s is not a valid interface name (%s); allowed: %s", ifKey, quote(ifname), why, ifNameRule)
		}
		// The config's own "ifname": one more problem of the config.
		v.fail("ifname", "%s: %s is not a valid interface name (%s); allowed: %s", ifKey, quote(ifname), why, ifNameRule)
	}

	v.network()
	v.logging()
	mode, modeOK := v.mode()
	v.links(ifname, ifKey)
	v.ranges()
	v.vlan(ifname, ifKey)
	if modeOK {
		v.modeRules(mode)
		v.monitoring(mode)
		v.arp(mode)
		v.delays()
		v.primary(mode)
		if c.TLBDynamicLB != nil && *c.TLBDynamicLB == 0 && mode == ModeBalanceALB {
			v.fail("tlbDynamicLb", "tlbDynamicLb: 0 is not possible in mode balance-alb (the kernel forces 1 there); use mode balance-tlb for tlbDynamicLb 0, or remove it")
		}
		if c.RuntimeMAC != nil && mode == ModeActiveBackup && c.FailOverMac != nil && *c.FailOverMac == FailOverMacActive {
			v.fail("runtimeConfig.mac", "runtimeConfig.mac: %s cannot be applied with mode active-backup and failOverMac active: the kernel silently ignores a bond MAC there (the bond takes the active link's MAC); remove the mac or use failOverMac none or follow", c.RuntimeMAC)
		}
	}
	if err := v.err(); err != nil {
		return BondSpec{}, err
	}
	return c.bondSpec(ifname, mode), nil
}

func (c *Config) bondSpec(ifname string, mode Mode) BondSpec {
	o := BondOptions{Mode: mode}
	for _, r := range rules() {
		if r.bond != nil {
			r.bond.spec(c, &o)
		}
	}
	spec := BondSpec{
		Name:                 ifname,
		Options:              o,
		MTU:                  c.MTU,
		MAC:                  slices.Clone(c.RuntimeMAC),
		Links:                slices.Clone(c.Links),
		LinksInContainer:     c.LinksInContainer,
		AllowUnsafeHostLinks: c.AllowUnsafeHostLinks,
		RequireDistinctPFs:   c.RequireDistinctPFs,
	}
	if c.VLAN != 0 {
		p := c.VLANProtocol
		if p == 0 {
			p = VLAN8021Q
		}
		spec.VLAN = &VLANSpec{Name: ifname, ID: c.VLAN, Protocol: p, MTU: c.VLANMTU}
		spec.Name = VLANBondName(ifname)
	}
	return spec
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

type validator struct {
	c        *Config
	problems []string
	more     int
	reported map[string]bool
}

func newValidator(c *Config) *validator { return &validator{c: c, reported: map[string]bool{}} }

// failErr records a decoding error of key, if any.
func (v *validator) failErr(key string, err error) {
	if err == nil {
		return
	}
	v.fail(key, "%s", err.Error())
}

// bad reports whether key already has a problem, so that rules that
// depend on its value do not guess about it.
func (v *validator) bad(keys ...string) bool {
	for _, k := range keys {
		if v.reported[k] {
			return true
		}
	}
	return false
}

// typo names the unknown keys that probably meant key, for the message
// saying key is missing: " (the config has miimmon: did you mean miimon?)".
func (v *validator) typo(key string) string {
	var got []string
	for _, h := range v.c.KeyHints {
		if h.Want == key {
			got = append(got, h.Key)
		}
	}
	if len(got) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the config has %s: did you mean %s?)", strings.Join(got, ", "), key)
}

// fail records a problem with key, once per key.
func (v *validator) fail(key, format string, args ...any) {
	if v.reported[key] {
		return
	}
	v.reported[key] = true
	if len(v.problems) == maxProblems {
		v.more++
		return
	}
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	msg := strings.Join(v.problems, "; ")
	if v.more > 0 {
		msg += fmt.Sprintf("; and %d more", v.more)
	}
	return &Error{Code: CodeInvalidConfig, Msg: msg, Problems: slices.Clone(v.problems)}
}

func (v *validator) logging() {
	if l := v.c.LogLevel; l != "" && !ValidLogLevel(l) {
		v.fail("logLevel", "logLevel: %s is not a level; allowed: %s", quote(l), strings.Join(LogLevels, ", "))
	}
	if f := v.c.LogFile; f != "" {
		if err := CheckLogFileName(f); err != nil {
			v.fail("logFile", "logFile: %s: %v", quote(f), err)
		}
	}
}

func (v *validator) network() {
	if v.bad("name") {
		return
	}
	n := v.c.Name
	if n == "" {
		v.fail("name", "name: missing; the network name is required%s", v.typo("name"))
		return
	}
	for i := 0; i < len(n); i++ {
		b := n[i]
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if !alnum && (i == 0 || b != '_' && b != '.' && b != '-') {
			v.fail("name", "name: %s is not a valid network name; allowed: a letter or digit, then letters, digits, '_', '.', '-'", quote(n))
			return
		}
	}
}

func (v *validator) mode() (Mode, bool) {
	if v.bad("mode") {
		return 0, false
	}
	if v.c.Mode == "" {
		v.fail("mode", "mode: missing%s; allowed: %s", v.typo("mode"), ModeNames())
		return 0, false
	}
	m, ok := ParseMode(v.c.Mode)
	if !ok {
		v.fail("mode", "mode: %s is not a bonding mode; allowed: %s", quote(v.c.Mode), ModeNames())
	}
	return m, ok
}

const ifNameRule = `1-15 printable ASCII characters, none of '/', ':', '%', and not "." or ".."`

// badIfName says why s is not a valid Linux interface name, or "".
func badIfName(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > 15:
		return fmt.Sprintf("%d bytes, more than 15", len(s))
	case s == "." || s == "..":
		return "reserved"
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '/' || b == ':' || b == '%':
			return fmt.Sprintf("contains %q", b)
		case b <= ' ' || b >= 0x7f:
			return fmt.Sprintf("contains byte 0x%02x", b)
		}
	}
	return ""
}

func (v *validator) links(ifname, ifKey string) {
	if v.bad("links") {
		return
	}
	ls := v.c.Links
	switch n := len(ls); {
	case n == 0:
		v.fail("links", `links: missing%s; at least 2 links are required, e.g. "links": [{"name": "net1"}, {"name": "net2"}]`, v.typo("links"))
		return
	case n == 1:
		v.fail("links", "links: 1 entry (%s); at least 2 are required", quote(ls[0]))
	case n > MaxLinks:
		v.fail("links", "links: %d entries; at most %d allowed", n, MaxLinks)
		return
	}
	seen := make(map[string]int, len(ls))
	for i, l := range ls {
		key := fmt.Sprintf("links[%d]", i)
		if why := badIfName(l); why != "" {
			v.fail(key, "%s: %s is not a valid interface name (%s); allowed: %s", key, quote(l), why, ifNameRule)
			continue
		}
		if j, dup := seen[l]; dup {
			v.fail(key, "%s: %s is listed twice (also links[%d]); each link may be given once", key, quote(l), j)
			continue
		}
		seen[l] = i
		if l == ifname && v.c.VLAN != 0 {
			v.fail(key, "%s: %s is the VLAN device's own name (%s); rename the link or choose another interface name", key, quote(l), ifKey)
		} else if l == ifname {
			v.fail(key, "%s: %s is the bond's own name (%s); a bond cannot enslave itself: rename the link or the bond", key, quote(l), ifKey)
		}
		if v.c.VLAN != 0 && l == VLANBondName(ifname) {
			v.fail(key, "%s: %s is the name of the bond under the VLAN (%s with \"-bond\"); rename the link", key, quote(l), ifKey)
		}
	}
}

// ranges re-checks the ranges ParseConfig enforces, for configs built in code.
func (v *validator) ranges() {
	c := v.c
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		v.fail("mtu", "mtu: %d is out of range; allowed: 0 (keep the links' MTU) or 68..65535", c.MTU)
	}
	for _, r := range rules() {
		if r.bond == nil {
			continue
		}
		if n, ok := r.bond.configNum(c); ok && n > r.bond.max() {
			allowed := fmt.Sprintf("0..%d", r.bond.max())
			if r.bond.max() == 1 {
				allowed = "0, 1"
			}
			v.fail(r.Key, "%s: %d is out of range; allowed: %s", r.Key, n, allowed)
		}
	}
}

// modeRules applies the option table: a key set in a mode that does not
// accept it is refused (the kernel either refuses it with EACCES or
// ignores it).
func (v *validator) modeRules(m Mode) {
	for _, r := range rules() {
		if !r.present(v.c) || r.AcceptsMode(m) {
			continue
		}
		if r.neutral != nil && r.neutral(v.c) {
			continue
		}
		extra := ""
		if r.AnyModeValue != "" {
			extra = fmt.Sprintf(", or set it to %s", r.AnyModeValue)
		}
		v.fail(r.Key, "%s: %s is not allowed in mode %s; %s is only used in %s; remove it%s",
			r.Key, r.show(v.c), m, r.Key, modeList(r.Modes), extra)
	}
}

func val(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}

func (v *validator) monitoring(m Mode) {
	if v.bad("miimon", "arpInterval") {
		return
	}
	mi, ai := val(v.c.Miimon), val(v.c.ArpInterval)
	switch {
	case mi == 0 && ai == 0:
		alt := " or arpInterval with arpIpTargets"
		if !m.SupportsARPMonitor() {
			alt = ""
		}
		what := "missing" + v.typo("miimon")
		if v.c.Miimon != nil {
			what = "0 disables link monitoring"
		}
		v.fail("miimon", "miimon: %s; link monitoring is required: set miimon in ms (e.g. 100)%s", what, alt)
	case mi > 0 && ai > 0:
		v.fail("arpInterval", "arpInterval: %d with miimon %d; the kernel refuses both monitors at once: set only one", ai, mi)
	}
}

func (v *validator) arp(m Mode) {
	if !m.SupportsARPMonitor() || v.bad("arpInterval") {
		return // the mode rules already refused every ARP key
	}
	c := v.c
	ai := val(c.ArpInterval)
	switch {
	case ai > 0 && len(c.ArpIPTargets) == 0:
		v.fail("arpIpTargets", "arpIpTargets: missing%s; arpInterval %d needs at least one IPv4 address to probe", v.typo("arpIpTargets"), ai)
	case ai == 0 && len(c.ArpIPTargets) > 0:
		v.fail("arpIpTargets", "arpIpTargets: %s set but arpInterval is %d; targets are only used by the ARP monitor: set arpInterval > 0 or remove arpIpTargets",
			clip("["+strings.Join(c.ArpIPTargets, ", ")+"]"), ai)
	}
	if n := len(c.ArpIPTargets); n > MaxArpIPTargets {
		v.fail("arpIpTargets", "arpIpTargets: %d entries; at most %d allowed", n, MaxArpIPTargets)
	} else {
		seen := map[netip.Addr]int{}
		for i, t := range c.ArpIPTargets {
			key := fmt.Sprintf("arpIpTargets[%d]", i)
			a, err := netip.ParseAddr(t)
			switch {
			case err != nil || !a.Is4():
				v.fail(key, "%s: %s is not an IPv4 address; allowed: dotted-quad unicast IPv4 such as 192.0.2.1", key, quote(t))
			case a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
				v.fail(key, "%s: %s cannot be probed; allowed: a unicast IPv4 address, not 0.0.0.0 or 255.255.255.255", key, quote(t))
			case a.IsMulticast():
				v.fail(key, "%s: %s is multicast; allowed: a unicast IPv4 address", key, quote(t))
			default:
				if j, dup := seen[a]; dup {
					v.fail(key, "%s: %s is listed twice (also arpIpTargets[%d])", key, quote(t), j)
				}
				seen[a] = i
			}
		}
	}
	if c.ArpValidate != nil && *c.ArpValidate != 0 && ai == 0 {
		v.fail("arpValidate", "arpValidate: %q needs arpInterval > 0 (ARP monitoring); with miimon the kernel refuses it", c.ArpValidate.String())
	}
}

func (v *validator) delays() {
	if v.bad("miimon") {
		return
	}
	mi := val(v.c.Miimon)
	for _, d := range []struct {
		key string
		p   *uint32
	}{{"updelay", v.c.UpDelay}, {"downdelay", v.c.DownDelay}} {
		if d.p == nil {
			continue
		}
		n := *d.p
		if mi == 0 {
			v.fail(d.key, "%s: %d needs miimon > 0 (the kernel refuses delays without MII monitoring); set miimon or remove %s", d.key, n, d.key)
			continue
		}
		if n%mi != 0 {
			lo := n / mi * mi
			hint := strconv.FormatUint(uint64(lo), 10)
			if hi := uint64(lo) + uint64(mi); hi <= IntMax {
				hint += " or " + strconv.FormatUint(hi, 10)
			}
			v.fail(d.key, "%s %d is not a multiple of miimon %d; use %s", d.key, n, mi, hint)
		}
	}
}

func (v *validator) primary(m Mode) {
	p := v.c.Primary
	if p == "" || !m.UsesActiveSlave() || v.bad("links") {
		return
	}
	if !slices.Contains(v.c.Links, p) {
		v.fail("primary", "primary: %s is not one of the links (%s)", quote(p), clip(strings.Join(v.c.Links, ", ")))
	}
}

// vlan checks the VLAN keys: they need vlan, and the VLAN device cannot be
// bigger than the bond under it (the kernel refuses it with EINVAL).
func (v *validator) vlan(ifname, ifKey string) {
	c := v.c
	if c.VLAN == 0 {
		if c.VLANMTU != 0 {
			v.fail("vlanMtu", "vlanMtu: %d set without vlan; it is the MTU of the VLAN device: set vlan (1..%d) or remove vlanMtu", c.VLANMTU, MaxVLANID)
		}
		if c.VLANProtocol != 0 {
			v.fail("vlanProtocol", "vlanProtocol: %s set without vlan; set vlan (1..%d) or remove vlanProtocol", quote(c.VLANProtocol.String()), MaxVLANID)
		}
		return
	}
	if c.VLAN < 1 || c.VLAN > MaxVLANID {
		v.fail("vlan", "vlan: %d is out of range; allowed: 1..%d", c.VLAN, MaxVLANID)
	}
	if c.VLANMTU != 0 && (c.VLANMTU < 68 || c.VLANMTU > 65535) {
		v.fail("vlanMtu", "vlanMtu: %d is out of range; allowed: 0 (the bond's MTU) or 68..65535", c.VLANMTU)
	}
	if c.VLANProtocol != 0 && c.VLANProtocol != VLAN8021Q && c.VLANProtocol != VLAN8021AD {
		v.fail("vlanProtocol", "vlanProtocol: %s is not a VLAN protocol; allowed: \"802.1Q\", \"802.1ad\"", c.VLANProtocol)
	}
	if c.MTU != 0 && c.VLANMTU > c.MTU {
		v.fail("vlanMtu", "vlanMtu: %d is more than the bond's mtu %d; a VLAN device cannot be bigger than the bond it sits on: lower vlanMtu or raise mtu", c.VLANMTU, c.MTU)
	}
}
