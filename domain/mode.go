package domain

import (
	"fmt"
	"strings"
)

// Mode is a Linux bonding mode. The numbers are the kernel's (IFLA_BOND_MODE).
type Mode uint8

const (
	ModeBalanceRR    Mode = 0
	ModeActiveBackup Mode = 1
	ModeBalanceXOR   Mode = 2
	ModeBroadcast    Mode = 3
	Mode8023AD       Mode = 4
	ModeBalanceTLB   Mode = 5
	ModeBalanceALB   Mode = 6
)

var modeNames = []string{"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"}

// AllModes lists every mode in kernel order.
func AllModes() []Mode {
	return []Mode{ModeBalanceRR, ModeActiveBackup, ModeBalanceXOR, ModeBroadcast, Mode8023AD, ModeBalanceTLB, ModeBalanceALB}
}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode accepts the kernel's mode names.
func ParseMode(s string) (Mode, bool) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), true
		}
	}
	return 0, false
}

// ModeNames returns the accepted mode names, for error messages.
func ModeNames() string { return strings.Join(modeNames, ", ") }

// UsesActiveSlave reports whether the mode has a single active slave
// (primary, active_slave and arp_validate make sense there).
func (m Mode) UsesActiveSlave() bool {
	return m == ModeActiveBackup || m == ModeBalanceTLB || m == ModeBalanceALB
}

// NeedsLinkSpeed reports whether the kernel needs ethtool speed/duplex of each
// slave for the mode to work (802.3ad, tlb, alb).
func (m Mode) NeedsLinkSpeed() bool {
	return m == Mode8023AD || m == ModeBalanceTLB || m == ModeBalanceALB
}

// RewritesSlaveMACs reports whether the bonding driver gives slaves a MAC
// other than their own, at enslave or on failover: every mode does but
// active-backup with fail_over_mac active, which never touches them (and
// lets the bond take the active slave's). With VFs whose MAC the PF locked
// only that one works.
func (o BondOptions) RewritesSlaveMACs() bool {
	return o.Mode != ModeActiveBackup || o.FailOverMac == nil || *o.FailOverMac != FailOverMacActive
}

// SupportsARPMonitor reports whether the kernel accepts arp_interval and
// arp_validate in the mode (not in 802.3ad, tlb, alb: EACCES).
func (m Mode) SupportsARPMonitor() bool { return !m.NeedsLinkSpeed() }

// enumName is a named option value with its kernel number.
type enumName[T ~uint8 | ~uint32] struct {
	name string
	val  T
}

func lookupEnum[T ~uint8 | ~uint32](table []enumName[T], s string) (T, bool) {
	for _, e := range table {
		if e.name == s {
			return e.val, true
		}
	}
	return 0, false
}

func enumString[T ~uint8 | ~uint32](table []enumName[T], v T) string {
	for _, e := range table {
		if e.val == v {
			return e.name
		}
	}
	return fmt.Sprintf("%d", v)
}

func enumNames[T ~uint8 | ~uint32](table []enumName[T]) string {
	names := make([]string, len(table))
	for i, e := range table {
		names[i] = e.name
	}
	return strings.Join(names, ", ")
}

// FailOverMac is fail_over_mac (IFLA_BOND_FAIL_OVER_MAC).
type FailOverMac uint8

const (
	FailOverMacNone   FailOverMac = 0
	FailOverMacActive FailOverMac = 1
	FailOverMacFollow FailOverMac = 2
)

var failOverMacNames = []enumName[FailOverMac]{{"none", 0}, {"active", 1}, {"follow", 2}}

func (f FailOverMac) String() string { return enumString(failOverMacNames, f) }

// XmitHashPolicy is xmit_hash_policy (IFLA_BOND_XMIT_HASH_POLICY).
type XmitHashPolicy uint8

var xmitHashPolicyNames = []enumName[XmitHashPolicy]{
	{"layer2", 0}, {"layer3+4", 1}, {"layer2+3", 2}, {"encap2+3", 3}, {"encap3+4", 4}, {"vlan+srcmac", 5},
}

func (x XmitHashPolicy) String() string { return enumString(xmitHashPolicyNames, x) }

// LacpRate is lacp_rate (IFLA_BOND_AD_LACP_RATE).
type LacpRate uint8

var lacpRateNames = []enumName[LacpRate]{{"slow", 0}, {"fast", 1}}

func (l LacpRate) String() string { return enumString(lacpRateNames, l) }

// PrimaryReselect is primary_reselect (IFLA_BOND_PRIMARY_RESELECT).
type PrimaryReselect uint8

var primaryReselectNames = []enumName[PrimaryReselect]{{"always", 0}, {"better", 1}, {"failure", 2}}

func (p PrimaryReselect) String() string { return enumString(primaryReselectNames, p) }

// ArpValidate is arp_validate (IFLA_BOND_ARP_VALIDATE).
type ArpValidate uint32

var arpValidateNames = []enumName[ArpValidate]{
	{"none", 0}, {"active", 1}, {"backup", 2}, {"all", 3}, {"filter", 4}, {"filter_active", 5}, {"filter_backup", 6},
}

func (a ArpValidate) String() string { return enumString(arpValidateNames, a) }

// AdSelect is ad_select (IFLA_BOND_AD_SELECT); 6.1 knows 0-2.
type AdSelect uint8

var adSelectNames = []enumName[AdSelect]{{"stable", 0}, {"bandwidth", 1}, {"count", 2}}

func (a AdSelect) String() string { return enumString(adSelectNames, a) }
