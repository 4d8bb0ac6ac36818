package memory

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/bondcni/bond/domain"
)

func isLB(m domain.Mode) bool { return m == domain.ModeBalanceTLB || m == domain.ModeBalanceALB }

// usesARP: the modes that accept the ARP monitor (bond_mode_uses_arp).
func usesARP(m domain.Mode) bool { return !m.NeedsLinkSpeed() }

// monitorOptions are the options newBond applies by hand: the MII and ARP
// monitors exclude each other, and the delays are stored as multiples of
// miimon. The table's other numeric options are plain values.
var monitorOptions = []string{"miimon", "updelay", "downdelay", "arp_interval", "arp_validate"}

// kernelModes are the modes the kernel takes a plain option in (the
// others refuse it with EACCES); nil for an option every mode takes.
func kernelModes(kernel string) func(domain.Mode) bool {
	switch kernel {
	case "lacp_rate":
		return func(m domain.Mode) bool { return m == domain.Mode8023AD }
	case "packets_per_slave":
		return func(m domain.Mode) bool { return m == domain.ModeBalanceRR }
	case "tlb_dynamic_lb":
		return isLB
	}
	return nil
}

// moduleDefault is a plain option's value in a new bond (the bonding
// module's defaults; 0 for the others). balance-alb forces tlb_dynamic_lb
// to 1, which is its default anyway.
func moduleDefault(kernel string) uint32 {
	switch kernel {
	case "packets_per_slave", "num_grat_arp", "tlb_dynamic_lb":
		return 1
	}
	return 0
}

// newBond applies a create message's options, starting from the module
// defaults: the mode, then the monitors in the kernel's order
// (bond_changelink), then the option table's plain options in table order.
// The first refusal wins; nothing exists yet, so nothing is left behind.
func newBond(op string, o domain.BondOptions) (*bond, error) {
	const intMax = domain.IntMax
	b := &bond{macRandom: true}
	notInMode := func(opt string) error {
		return refuse(op, "EACCES", "option %s: not supported in mode %s", opt, o.Mode)
	}
	invalid := func(opt string, v any) error {
		return refuse(op, "EINVAL", "option %s: invalid value %v", opt, v)
	}

	// MODE: the monitor and mode-bound defaults follow the mode.
	if o.Mode > domain.ModeBalanceALB {
		return nil, invalid("mode", uint8(o.Mode))
	}
	b.mode = o.Mode
	if !usesARP(b.mode) {
		b.arpInterval = 0
		if b.miimon == 0 {
			b.miimon = 100
		}
	}
	b.arpValidate = 0

	var msgMiimon uint32
	if o.Miimon != nil {
		v := *o.Miimon
		if v > intMax {
			return nil, invalid("miimon", v)
		}
		msgMiimon = v
		b.miimon = v
		if v != 0 && b.arpInterval != 0 {
			b.arpInterval, b.arpValidate = 0, 0
		}
	}
	for _, d := range []struct {
		name string
		val  *uint32
		mul  *uint32
	}{{"updelay", o.UpDelay, &b.upMul}, {"downdelay", o.DownDelay, &b.downMul}} {
		if d.val == nil {
			continue
		}
		if b.miimon == 0 {
			return nil, refuse(op, "EPERM", "option %s: MII monitoring is disabled (miimon 0)", d.name)
		}
		if *d.val > intMax {
			return nil, invalid(d.name, *d.val)
		}
		*d.mul = *d.val / b.miimon // rounded down to a multiple of miimon
	}
	if o.ArpInterval != nil {
		v := *o.ArpInterval
		if v != 0 && msgMiimon != 0 {
			return nil, refuse(op, "EINVAL", "ARP monitoring cannot be used with MII monitoring")
		}
		if !usesARP(b.mode) {
			return nil, notInMode("arp_interval")
		}
		if v > intMax {
			return nil, invalid("arp_interval", v)
		}
		b.arpInterval = v
		if v != 0 {
			b.miimon = 0
		}
	}
	if o.ArpIPTargets != nil {
		if len(o.ArpIPTargets) > domain.MaxArpIPTargets {
			return nil, invalid("arp_ip_target", fmt.Sprintf("%d targets", len(o.ArpIPTargets)))
		}
		var ts []netip.Addr
		for _, t := range o.ArpIPTargets {
			t = t.Unmap()
			if !t.Is4() || t.IsUnspecified() || t == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || slices.Contains(ts, t) {
				return nil, invalid("arp_ip_target", t)
			}
			ts = append(ts, t)
		}
		b.targets = ts
	}
	if o.ArpValidate != nil {
		v := *o.ArpValidate
		if v != 0 && msgMiimon != 0 {
			return nil, refuse(op, "EINVAL", "ARP validating cannot be used with MII monitoring")
		}
		if !usesARP(b.mode) {
			return nil, notInMode("arp_validate")
		}
		if v > 6 {
			return nil, invalid("arp_validate", v)
		}
		b.arpValidate = v
	}
	if o.Primary != "" {
		if !b.mode.UsesActiveSlave() {
			return nil, notInMode("primary")
		}
		b.primary = o.Primary
	}
	for r := range domain.BondOptionRows() {
		if !r.Numeric() || slices.Contains(monitorOptions, r.Kernel) {
			continue
		}
		v, ok := r.Uint(&o)
		if !ok {
			v = moduleDefault(r.Kernel)
		} else if modes := kernelModes(r.Kernel); modes != nil && !modes(b.mode) {
			return nil, notInMode(r.Kernel)
		} else if v > r.Max() {
			return nil, invalid(r.Kernel, v)
		}
		r.SetUint(&b.plain, v)
	}
	return b, nil
}

// options reports the bond's options as bond_fill_info does: every scalar,
// the delays as multiplier×miimon, the targets if any, the primary only
// while a slave of that name is enslaved.
func (k *Kernel) options(n *netns, bl *link) domain.BondOptions {
	b := bl.bond
	o := domain.BondOptions{
		Mode:         b.mode,
		Miimon:       new(b.miimon),
		UpDelay:      new(b.upMul * b.miimon),
		DownDelay:    new(b.downMul * b.miimon),
		ArpInterval:  new(b.arpInterval),
		ArpIPTargets: slices.Clone(b.targets),
		ArpValidate:  new(b.arpValidate),
	}
	for r := range domain.BondOptionRows() {
		if v, ok := r.Uint(&b.plain); ok {
			r.SetUint(&o, v) // a copy: the caller's to change
		}
	}
	if p := k.primarySlave(n, bl); p != nil {
		o.Primary = p.name
	}
	return o
}

func (k *Kernel) primarySlave(n *netns, bl *link) *link {
	b := bl.bond
	if b.primary == "" || !b.mode.UsesActiveSlave() {
		return nil
	}
	for _, s := range k.slavesOf(n, bl) {
		if s.name == b.primary {
			return s
		}
	}
	return nil
}

// CreateBond creates a bond, down, with every option, its MTU (0 = 1500),
// MAC (nil = random, replaced by the first slave's) and alias. A taken
// name is domain.ErrExists; a primary that does not exist in ns is
// domain.ErrNotFound (adapters/nlkernel resolves it to an ifindex); an option
// the kernel refuses is domain.ErrKernelRefused and leaves nothing behind.
func (k *Kernel) CreateBond(ctx context.Context, ns domain.Netns, spec domain.BondSpec, alias string) (l domain.Link, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("CreateBond", err, "%s %s mode %s", nsName(ns), spec.Name, spec.Options.Mode) }()
	if err := k.begin(ctx, "CreateBond", true); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("creating bond %s (mode %s) in %s", spec.Name, spec.Options.Mode, nsName(ns))
	n, err := k.netnsOf(ns)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	if spec.Options.Primary != "" && n.byName(spec.Options.Primary) == nil {
		return domain.Link{}, refuse(op+": looking up primary "+spec.Options.Primary, "ENODEV", "no such device")
	}
	if !validName(spec.Name) {
		return domain.Link{}, refuse(op, "EINVAL", "invalid interface name %q", spec.Name)
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	if mtu < 68 || mtu > 65535 {
		return domain.Link{}, refuse(op, "EINVAL", "MTU %d outside 68-65535", mtu)
	}
	if spec.MAC != nil {
		if err := checkMAC(op, spec.MAC); err != nil {
			return domain.Link{}, err
		}
	}
	if len(alias) > 255 {
		return domain.Link{}, refuse(op, "EINVAL", "alias longer than 255 bytes")
	}
	b, err := newBond(op, spec.Options)
	if err != nil {
		return domain.Link{}, err
	}
	if n.byName(spec.Name) != nil {
		return domain.Link{}, refuse(op, "EEXIST", "file exists")
	}
	bl := &link{
		index: k.newIndex(n), name: spec.Name, kind: "bond", mtu: mtu, minMTU: 68, maxMTU: 65535,
		cable: true, alias: alias, bond: b,
	}
	if spec.MAC != nil {
		bl.mac = slices.Clone(spec.MAC)
		b.macRandom = false
	} else {
		bl.mac = k.randomMAC()
	}
	n.links[bl.index] = bl
	return k.view(n, bl), nil
}

// Enslave sets the slave down, then enslaves it, with the kernel's checks
// (bond_enslave) and effects: the slave takes the bond's MTU, its MAC is
// saved and changed per fail_over_mac and mode, it is brought up, and the
// active slave is chosen again. A link enslaved to another master is
// refused with domain.ErrBusy before anything changes (the kernel would
// silently move it); enslaving it to its own bond again changes nothing.
// As adapters/nlkernel, it is atomic: when the enslave fails after the down
// message (a refusal, or a failure armed with FailOn("Enslave/master")),
// a slave that was up is set up again.
func (k *Kernel) Enslave(ctx context.Context, ns domain.Netns, bondIndex, slaveIndex int) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("Enslave", err, "%s ifindex %d to ifindex %d", nsName(ns), slaveIndex, bondIndex) }()
	if err := k.begin(ctx, "Enslave", true); err != nil {
		return err
	}
	op := fmt.Sprintf("enslaving ifindex %d to ifindex %d in %s", slaveIndex, bondIndex, nsName(ns))
	n, s, err := k.lookup(op, ns, slaveIndex)
	if err != nil {
		return err
	}
	op = fmt.Sprintf("enslaving %s to ifindex %d in %s", s.name, bondIndex, nsName(ns))
	if s.master != 0 {
		if s.master == bondIndex {
			return nil
		}
		return refuse(op, "EBUSY", "%s is already enslaved to ifindex %d", s.name, s.master)
	}
	// Message 1: down.
	wasUp := s.up
	k.setUp(n, s, false)
	// Message 2: IFLA_MASTER.
	err = k.master(op, n, bondIndex, s)
	if err != nil && wasUp {
		k.setUp(n, s, true)
	}
	return err
}

// master is the IFLA_MASTER message of an enslave.
func (k *Kernel) master(op string, n *netns, bondIndex int, s *link) error {
	if err := k.f.hit("Enslave/master", false); err != nil {
		return err
	}
	bl, ok := n.links[bondIndex]
	if !ok {
		return refuse(op, "EINVAL", "master ifindex %d is not in the slave's netns", bondIndex)
	}
	if bl.bond == nil {
		return refuse(op, "EOPNOTSUPP", "%s (a %s) cannot take slaves", bl.name, kindName(bl))
	}
	return k.enslave(op, n, bl, s)
}

// enslave is bond_enslave.
func (k *Kernel) enslave(op string, n *netns, bl, s *link) error {
	b := bl.bond
	switch {
	case s.isMaster() && s.bond == nil:
		return refuse(op, "EPERM", "Device type (master device) cannot be enslaved")
	case s == bl:
		return refuse(op, "EPERM", "Cannot enslave bond to itself.")
	case s.up:
		return refuse(op, "EPERM", "Device can not be enslaved while up")
	case s.loopback:
		return refuse(op, "EINVAL", "Device type is different from other slaves (loopback)")
	}
	if s.mtu != bl.mtu && (bl.mtu < s.minMTU || bl.mtu > s.maxMTU) {
		return refuse(op, "EINVAL", "Error -22 calling dev_set_mtu (MTU %d outside %s's range %d-%d)", bl.mtu, s.name, s.minMTU, s.maxMTU)
	}

	// Work out the MACs before changing anything.
	first := len(b.slaves) == 0
	bondMAC := bl.mac
	if first && b.macRandom {
		bondMAC = s.mac
	}
	perm := slices.Clone(s.mac)
	slaveMAC := perm
	abFOM := b.mode == domain.ModeActiveBackup && b.fom() != domain.FailOverMacNone
	switch {
	case isLB(b.mode):
		// bond_alb_init_slave: back to its own address, unless another
		// slave already uses it; then a free one from the others.
		if !first {
			slaves := k.slavesOf(n, bl)
			inUse := func(mac net.HardwareAddr) bool {
				return slices.ContainsFunc(slaves, func(x *link) bool { return bytes.Equal(x.mac, mac) })
			}
			if bytes.Equal(perm, bondMAC) || inUse(perm) {
				found := false
				for _, x := range slaves {
					if !inUse(x.slave.permHW) {
						slaveMAC, found = x.slave.permHW, true
						break
					}
				}
				if !found && b.active != 0 {
					return refuse(op, "EFAULT", "the slave hw address is in use by the bond; couldn't find a slave with a free hw address to give it")
				}
			}
		}
	case !abFOM:
		slaveMAC = bondMAC
	case b.fom() == domain.FailOverMacFollow && bytes.Equal(perm, bondMAC):
		slaveMAC = k.randomMAC()
	}

	if err := refusesMAC(op, s, slaveMAC); err != nil {
		return err
	}
	bl.mac = slices.Clone(bondMAC)
	if first && b.macRandom {
		b.macRandom = false // NET_ADDR_STOLEN
	}
	st := "up"
	switch {
	case b.miimon != 0:
		if !s.cable {
			st = "down"
		} else if b.upMul != 0 {
			st = "back"
		}
	case b.arpInterval != 0 && !s.cable:
		st = "down"
	}
	s.slave = &slave{permHW: perm, savedMTU: s.mtu, state: st}
	s.mtu = bl.mtu
	s.mac = slices.Clone(slaveMAC)
	s.up = true // enslaving opens the slave
	s.master = bl.index
	b.slaves = append(b.slaves, s.index)
	if b.primary != "" && b.primary == s.name {
		b.forcePrimary = true
	}
	k.selectActive(n, bl)
	return nil
}

// Release removes a slave from its master; the kernel leaves it down with
// the MAC it had at enslave time (except in active-backup with
// fail_over_mac active, which never touched it) and its MTU restored. A
// link without a master is left alone.
func (k *Kernel) Release(ctx context.Context, ns domain.Netns, slaveIndex int) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() { k.logOp("Release", err, "%s ifindex %d", nsName(ns), slaveIndex) }()
	if err := k.begin(ctx, "Release", true); err != nil {
		return err
	}
	n, s, err := k.lookup(fmt.Sprintf("releasing ifindex %d in %s", slaveIndex, nsName(ns)), ns, slaveIndex)
	if err != nil {
		return err
	}
	if s.master == 0 {
		return nil
	}
	if bl := n.links[s.master]; bl != nil && bl.bond != nil {
		k.release(n, bl, s, false)
	}
	return nil
}

// release is __bond_release_one; all is set when the whole bond goes.
func (k *Kernel) release(n *netns, bl, s *link, all bool) {
	b := bl.bond
	wasActive := b.active == s.index
	b.slaves = slices.DeleteFunc(b.slaves, func(i int) bool { return i == s.index })
	if wasActive {
		k.changeActive(n, bl, nil)
		if !all {
			k.selectActive(n, bl)
		}
	}
	if len(b.slaves) == 0 {
		bl.mac = k.randomMAC()
		b.macRandom = true
	}
	s.up = false
	if b.mode != domain.ModeActiveBackup || b.fom() != domain.FailOverMacActive {
		s.mac = slices.Clone(s.slave.permHW)
	}
	s.mtu = s.slave.savedMTU
	s.master = 0
	s.slave = nil
}

// selectActive is bond_select_active_slave (modes with an active slave).
func (k *Kernel) selectActive(n *netns, bl *link) {
	b := bl.bond
	if !b.mode.UsesActiveSlave() {
		return
	}
	best := k.findBest(n, bl)
	cur := 0
	if best != nil {
		cur = best.index
	}
	if cur != b.active {
		k.changeActive(n, bl, best)
	}
}

// findBest is bond_find_best_slave.
func (k *Kernel) findBest(n *netns, bl *link) *link {
	b := bl.bond
	state := func(s *link) string { return linkState(b, s, bl.up) }
	prim := k.primarySlave(n, bl)
	curr := n.links[b.active]
	if b.active == 0 {
		curr = nil
	}
	if prim != nil && state(prim) == "up" {
		switch {
		case b.forcePrimary:
			b.forcePrimary = false
			return prim
		case curr == nil || state(curr) != "up":
			return prim
		}
		switch *b.plain.PrimaryReselect {
		case 1: // better
			if prim.speed < curr.speed || (prim.speed == curr.speed && duplexRank(prim) <= duplexRank(curr)) {
				return curr
			}
			return prim
		case 2: // failure
			return curr
		}
		return prim
	}
	if curr != nil && state(curr) == "up" {
		return curr
	}
	var back *link
	for _, s := range k.slavesOf(n, bl) {
		switch state(s) {
		case "up":
			return s
		case "back":
			if back == nil && s.up {
				back = s
			}
		}
	}
	return back
}

// duplexRank orders duplex values as the kernel's DUPLEX_* numbers do.
func duplexRank(l *link) int {
	switch l.duplex {
	case "full":
		return 1
	case "half":
		return 0
	}
	return -1
}

// changeActive is bond_change_active_slave with its MAC handling:
// fail_over_mac active gives the bond the new active slave's MAC, follow
// swaps MACs between old and new active, tlb/alb give the active slave the
// bond's MAC (swapping with whoever had it).
func (k *Kernel) changeActive(n *netns, bl *link, next *link) {
	b := bl.bond
	var old *link
	if b.active != 0 {
		old = n.links[b.active]
	}
	b.active = 0
	if next == nil {
		return
	}
	b.active = next.index
	if next.slave.state == "back" {
		next.slave.state = "up"
	}
	holder := func() *link {
		for _, s := range k.slavesOf(n, bl) {
			if s != next && bytes.Equal(s.mac, bl.mac) {
				return s
			}
		}
		return nil
	}
	switch {
	case b.mode == domain.ModeActiveBackup && b.fom() == domain.FailOverMacActive:
		bl.mac = slices.Clone(next.mac)
	case b.mode == domain.ModeActiveBackup && b.fom() == domain.FailOverMacFollow:
		if old == nil {
			old = holder()
		}
		if old != nil && old != next {
			old.mac, next.mac = next.mac, old.mac
		} else if old == nil {
			next.mac = slices.Clone(bl.mac)
		}
	case isLB(b.mode):
		if h := holder(); h != nil {
			h.mac, next.mac = next.mac, h.mac
		} else {
			next.mac = slices.Clone(bl.mac)
		}
	}
}

// Bond reads a bond's options, slaves (in ifindex order) and 802.3ad
// state. A link that is not a bond gives an error wrapping
// domain.ErrNotBond, with its Link in the returned state.
func (k *Kernel) Bond(ctx context.Context, ns domain.Netns, name string) (domain.BondState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "Bond", false); err != nil {
		return domain.BondState{}, err
	}
	op := fmt.Sprintf("reading bond %s in %s", name, nsName(ns))
	n, err := k.netnsOf(ns)
	if err != nil {
		return domain.BondState{}, fmt.Errorf("%s: %w", op, err)
	}
	bl := n.byName(name)
	if bl == nil {
		return domain.BondState{}, refuse(op, "ENODEV", "no such device")
	}
	st := domain.BondState{Link: k.view(n, bl)}
	if bl.bond == nil {
		return st, fmt.Errorf("%s: %w (kind %q)", op, domain.ErrNotBond, bl.kind)
	}
	b := bl.bond
	st.Options = k.options(n, bl)
	slaves := k.slavesOf(n, bl)
	slices.SortFunc(slaves, func(a, b *link) int { return a.index - b.index })
	ups := 0
	for _, s := range slaves {
		mii := linkState(b, s, bl.up)
		counters := s.counters
		ss := domain.SlaveState{Link: k.view(n, s), MIIStatus: mii, PermMAC: slices.Clone(s.slave.permHW), Counters: &counters}
		switch {
		case b.mode.UsesActiveSlave():
			ss.Active = s.index == b.active
		case b.mode == domain.Mode8023AD:
			ss.Active = bl.up && mii == "up"
			if ss.Active {
				ss.AggregatorID = 1
			}
			// No partner ever answers in memory: the port runs on
			// defaulted partner information, as a real one without a
			// LACP peer does.
			actor := domain.LACPActivity | domain.LACPAggregation
			if *b.plain.LacpRate == domain.LacpRate(1) {
				actor |= domain.LACPTimeout
			}
			lacp := &domain.SlaveLACP{ActorState: actor | domain.LACPDefaulted}
			if b.partner != nil && ss.Active {
				// In sync with a partner that runs LACP fast.
				inSync := domain.LACPSynchronization | domain.LACPCollecting | domain.LACPDistributing
				lacp.ActorState = actor | inSync
				lacp.PartnerState = domain.LACPActivity | domain.LACPTimeout | domain.LACPAggregation | inSync
			}
			ss.LACP = lacp
		default:
			ss.Active = true
		}
		if mii == "up" {
			ups++
		}
		if s.index == b.active && b.mode.UsesActiveSlave() {
			st.ActiveSlave = s.name
		}
		st.Slaves = append(st.Slaves, ss)
	}
	if b.mode == domain.Mode8023AD && bl.up && ups > 0 {
		st.AdInfo = &domain.AdInfo{AggregatorID: 1, NumPorts: uint16(ups), PartnerMAC: slices.Clone(b.partner)}
	}
	return st, nil
}

// fom is the bond's fail_over_mac.
func (b *bond) fom() domain.FailOverMac { return *b.plain.FailOverMac }
