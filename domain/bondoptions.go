package domain

import (
	"encoding/json"
	"fmt"
	"iter"
	"net/netip"
	"slices"
)

// BondOption is a row of the option table that sets one of the bond's own
// options (an IFLA_BOND_* attribute, a sysfs file in bonding/), with what
// every place an option appears needs: the spec builds it from the
// config, Drift compares it, the debug API shows it, the adapters move it
// to and from the kernel. Mode is not one: every bond has a mode, and
// everything depends on it.
type BondOption struct {
	// Key is the config key, Kernel the bonding option's sysfs name.
	Key, Kernel string
	r           *rule
	f           bondField
}

// bondField binds a row to its Config and BondOptions fields. Each row's
// is one small value, so the table costs little at start-up.
type bondField interface {
	// spec copies the validated config value into o.
	spec(c *Config, o *BondOptions)
	// isSet reports whether o requests (or reports) the option.
	isSet(o *BondOptions) bool
	// value is the set value as the config writes it: a number, an enum
	// name, a string, a list of strings.
	value(o *BondOptions) any
	// drift describes how got differs from a set want, or "".
	drift(key string, want, got *BondOptions) string
	// numeric reports whether the option is a number (or an enum) the
	// kernel takes as a number; num and setNum read and write it so.
	numeric() bool
	num(o *BondOptions) (uint32, bool)
	setNum(o *BondOptions, v uint32)
	// configNum is num of the Config's field.
	configNum(c *Config) (uint32, bool)
	// max is the largest value the kernel accepts (numeric options).
	max() uint32
}

// BondOptionRows yields the bonding options of the option table, in table
// order, straight from the table: nothing is built for it.
func BondOptionRows() iter.Seq[BondOption] {
	return func(yield func(BondOption) bool) {
		rs := rules()
		for i := range rs {
			if r := &rs[i]; r.bond != nil && !yield(BondOption{Key: r.Key, Kernel: r.Kernel, r: r, f: r.bond}) {
				return
			}
		}
	}
}

// AcceptsMode reports whether the plugin accepts the option in mode m.
func (b BondOption) AcceptsMode(m Mode) bool { return b.r.AcceptsMode(m) }

// The methods take BondOptions by pointer, so that reading an option
// does not copy (and, through the interface, allocate) the whole struct;
// only SetUint and SetSample change it.

// IsSet reports whether o sets the option.
func (b BondOption) IsSet(o *BondOptions) bool { return b.f.isSet(o) }

// Value is the option's value in o as the config writes it (a number, an
// enum's name, a link name, a list of addresses), nil when not set.
func (b BondOption) Value(o *BondOptions) any {
	if !b.f.isSet(o) {
		return nil
	}
	return b.f.value(o)
}

// Numeric reports whether the option is a number or an enum the kernel
// takes as a number (all but primary, a link, and arp_ip_target, a list).
func (b BondOption) Numeric() bool { return b.f.numeric() }

// Uint returns a numeric option as the kernel's number, ok false when it
// is not set (or not numeric).
func (b BondOption) Uint(o *BondOptions) (v uint32, ok bool) { return b.f.num(o) }

// SetUint sets a numeric option to the kernel's number v (v is not
// checked: a kernel reports what it holds); it does nothing for the others.
func (b BondOption) SetUint(o *BondOptions, v uint32) { b.f.setNum(o, v) }

// Max is the largest value the kernel accepts for a numeric option.
func (b BondOption) Max() uint32 { return b.f.max() }

// Drift describes how got (the kernel's) differs from want, "" when want
// does not set the option or got agrees.
func (b BondOption) Drift(want, got *BondOptions) string {
	if !b.f.isSet(want) {
		return ""
	}
	return b.f.drift(b.Key, want, got)
}

// Sample is the row's Sample: a valid non-default value, as JSON.
func (b BondOption) Sample() string { return b.r.Sample }

// SetSample sets the option in o to its row's Sample, as a config with
// that value would (for tests); an error means the row's Sample is wrong.
func (b BondOption) SetSample(o *BondOptions) error {
	var c Config
	if err := b.r.decode(&c, b.Key, json.RawMessage(b.r.Sample)); err != nil {
		return err
	}
	b.f.spec(&c, o)
	return nil
}

// ptrField binds a row to pointer fields *T of Config and BondOptions;
// names, for an enum, renders a value by name.
type ptrField[T ~uint8 | ~uint32] struct {
	cfg   func(*Config) **T
	opt   func(*BondOptions) **T
	limit uint32
	names []enumName[T]
}

func (f ptrField[T]) spec(c *Config, o *BondOptions) { *f.opt(o) = clone(*f.cfg(c)) }
func (f ptrField[T]) isSet(o *BondOptions) bool      { return *f.opt(o) != nil }
func (f ptrField[T]) numeric() bool                  { return true }
func (f ptrField[T]) max() uint32                    { return f.limit }

func (f ptrField[T]) value(o *BondOptions) any {
	if f.names != nil {
		return enumString(f.names, **f.opt(o))
	}
	return **f.opt(o)
}

func (f ptrField[T]) drift(key string, want, got *BondOptions) string {
	w, g := *f.opt(want), *f.opt(got)
	if g != nil && *w == *g {
		return ""
	}
	gs := "nothing"
	if g != nil {
		gs = fmt.Sprint(*g)
	}
	return fmt.Sprintf("%s: want %v, kernel has %s", key, *w, gs)
}

func (f ptrField[T]) num(o *BondOptions) (uint32, bool) {
	if p := *f.opt(o); p != nil {
		return uint32(*p), true
	}
	return 0, false
}

func (f ptrField[T]) configNum(c *Config) (uint32, bool) {
	if p := *f.cfg(c); p != nil {
		return uint32(*p), true
	}
	return 0, false
}

func (f ptrField[T]) setNum(o *BondOptions, v uint32) {
	t := T(v)
	*f.opt(o) = &t
}

// notNumeric is the numeric side of the options that are not numbers.
type notNumeric struct{}

func (notNumeric) numeric() bool                    { return false }
func (notNumeric) num(*BondOptions) (uint32, bool)  { return 0, false }
func (notNumeric) setNum(*BondOptions, uint32)      {}
func (notNumeric) max() uint32                      { return 0 }
func (notNumeric) configNum(*Config) (uint32, bool) { return 0, false }

// primaryField: the kernel stores the primary by name (it takes and
// reports an ifindex, which the adapters resolve).
type primaryField struct{ notNumeric }

func (primaryField) spec(c *Config, o *BondOptions) { o.Primary = c.Primary }
func (primaryField) isSet(o *BondOptions) bool      { return o.Primary != "" }
func (primaryField) value(o *BondOptions) any       { return o.Primary }

func (primaryField) drift(key string, want, got *BondOptions) string {
	if want.Primary == got.Primary {
		return ""
	}
	return fmt.Sprintf("%s: want %s, kernel has %q", key, want.Primary, got.Primary)
}

// arpTargetsField: the kernel keeps the targets as a set, in its own order.
type arpTargetsField struct{ notNumeric }

func (arpTargetsField) spec(c *Config, o *BondOptions) {
	for _, t := range c.ArpIPTargets {
		a, _ := netip.ParseAddr(t) // validated
		o.ArpIPTargets = append(o.ArpIPTargets, a)
	}
}

func (arpTargetsField) isSet(o *BondOptions) bool { return len(o.ArpIPTargets) > 0 }

func (arpTargetsField) value(o *BondOptions) any {
	t := make([]string, len(o.ArpIPTargets))
	for i, a := range o.ArpIPTargets {
		t[i] = a.String()
	}
	return t
}

func (arpTargetsField) drift(key string, want, got *BondOptions) string {
	w, g := sortedAddrs(want.ArpIPTargets), sortedAddrs(got.ArpIPTargets)
	if slices.Equal(w, g) {
		return ""
	}
	return fmt.Sprintf("%s: want %v, kernel has %v", key, w, g)
}

func sortedAddrs(a []netip.Addr) []netip.Addr {
	s := slices.Clone(a)
	slices.SortFunc(s, func(x, y netip.Addr) int { return x.Compare(y) })
	return s
}
