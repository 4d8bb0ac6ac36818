package contract

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

const testAlias = "bond-cni:contract"

// RunBondsContract checks ports.Bonds (with the ports.Links calls a bond's
// life involves): options read back as created in every mode, name clashes,
// enslave and release with the kernel's MTU and MAC rules per
// fail_over_mac, bond deletion, and that a bond cannot change namespace.
// Links come from Harness.NewLink: Ethernet-like, reporting 10000/full, so
// every mode can use them.
func RunBondsContract(t *testing.T, mk HarnessMaker) {
	for _, m := range domain.AllModes() {
		t.Run("create in mode "+m.String()+" reads back its options", func(t *testing.T) {
			h := mk(t)
			ns := h.NewNetns(t)
			spec := domain.BondSpec{Name: "bond0", Options: modeOptions(t, m), MTU: 1400}
			if m != domain.ModeActiveBackup {
				spec.MAC = unusedMAC(t)
			}
			l, err := h.Bonds().CreateBond(t.Context(), ns, spec, testAlias)
			require.NoError(t, err)
			assert.Equal(t, "bond0", l.Name)
			assert.Equal(t, "bond", l.Kind)
			assert.True(t, l.IsMaster)
			assert.False(t, l.Up, "a new bond is down")
			assert.Equal(t, testAlias, l.Alias)
			assert.Equal(t, 1400, l.MTU)
			if spec.MAC != nil {
				assert.Equal(t, spec.MAC, l.MAC, "a MAC given at create is kept")
			}

			st := bondNamed(t, h, ns, "bond0")
			assert.Equal(t, l.Index, st.Link.Index)
			assert.Equal(t, testAlias, st.Link.Alias)
			assertOptions(t, spec.Options, st.Options)
			assert.Empty(t, st.Slaves)
			assert.Empty(t, st.ActiveSlave)
		})
	}

	t.Run("create with the ARP monitor reads back its options", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		o := domain.BondOptions{Mode: domain.ModeActiveBackup}
		for r := range domain.BondOptionRows() {
			if arpMonitor(r) {
				require.NoError(t, r.SetSample(&o))
			}
		}
		_, err := h.Bonds().CreateBond(t.Context(), ns, domain.BondSpec{Name: "bond0", Options: o}, testAlias)
		require.NoError(t, err)
		st := bondNamed(t, h, ns, "bond0")
		assertOptions(t, o, st.Options)
		if st.Options.Miimon != nil {
			assert.Zero(t, *st.Options.Miimon, "the ARP monitor excludes the MII monitor")
		}
	})

	t.Run("create with a taken name is ErrExists", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		spec := domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeActiveBackup)}
		first, err := h.Bonds().CreateBond(t.Context(), ns, spec, testAlias)
		require.NoError(t, err)
		_, err = h.Bonds().CreateBond(t.Context(), ns, spec, "bond-cni:other")
		assert.ErrorIs(t, err, domain.ErrExists)
		got := linkNamed(t, h, ns, "bond0")
		assert.Equal(t, first.Index, got.Index)
		assert.Equal(t, testAlias, got.Alias, "the first bond is untouched")

		h.NewLink(t, ns, "ct0", 0)
		spec.Name = "ct0"
		_, err = h.Bonds().CreateBond(t.Context(), ns, spec, testAlias)
		assert.ErrorIs(t, err, domain.ErrExists)
		assert.NotEqual(t, "bond", linkNamed(t, h, ns, "ct0").Kind)
	})

	t.Run("create in a missing netns is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		missing := domain.Netns(t.TempDir() + "/no-such-netns")
		_, err := h.Bonds().CreateBond(t.Context(), missing, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeBalanceRR)}, testAlias)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("an option the kernel refuses leaves no bond behind", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		// arp_interval is not supported in 802.3ad (EACCES).
		o := domain.BondOptions{Mode: domain.Mode8023AD, ArpInterval: new(uint32(100)), ArpIPTargets: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
		_, err := h.Bonds().CreateBond(t.Context(), ns, domain.BondSpec{Name: "bond0", Options: o}, testAlias)
		assert.ErrorIs(t, err, domain.ErrKernelRefused)
		_, err = h.Links().Link(t.Context(), ns, "bond0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("Bond of a missing link is ErrNotFound, of another link ErrNotBond", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		_, err := h.Bonds().Bond(t.Context(), ns, "bond0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		h.NewLink(t, ns, "ct0", 0)
		st, err := h.Bonds().Bond(t.Context(), ns, "ct0")
		assert.ErrorIs(t, err, domain.ErrNotBond)
		assert.Equal(t, "ct0", st.Link.Name)
	})

	t.Run("enslaving an up link downs it first and brings it up enslaved", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeActiveBackup)})
		l := h.NewLink(t, ns, "ct0", 0)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))

		require.NoError(t, h.Bonds().Enslave(t.Context(), ns, b.Index, l.Index))
		got := linkNamed(t, h, ns, "ct0")
		assert.Equal(t, b.Index, got.MasterIndex)
		assert.True(t, got.Up, "enslaving opens the slave")
		st := bondNamed(t, h, ns, "bond0")
		assert.Equal(t, []string{"ct0"}, slaveNames(st))
		assert.Equal(t, l.MAC, st.Slaves[0].PermMAC, "perm_hwaddr is the MAC at enslave time")
	})

	for _, m := range domain.AllModes() {
		t.Run("enslave two links in mode "+m.String(), func(t *testing.T) {
			h := mk(t)
			ns := h.NewNetns(t)
			b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(m)})
			l1, l2 := h.NewLink(t, ns, "ct0", 0), h.NewLink(t, ns, "ct1", 0)
			enslave(t, h, ns, b, l1, l2)

			st := bondNamed(t, h, ns, "bond0")
			assert.Equal(t, []string{"ct0", "ct1"}, slaveNames(st))
			for _, s := range st.Slaves {
				assert.Equal(t, "up", s.MIIStatus, "%s: a link with carrier and speed is up", s.Link.Name)
				assert.Equal(t, b.Index, s.Link.MasterIndex)
			}
			if m.UsesActiveSlave() {
				assert.Contains(t, []string{"ct0", "ct1"}, st.ActiveSlave)
			}
		})
	}

	t.Run("an enslave the kernel refuses after the down message leaves the link up", func(t *testing.T) {
		// The kernel refuses to enslave a bond to itself only once its down
		// message went through: the call must undo that message.
		h := mk(t)
		ns := h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeActiveBackup)})
		require.NoError(t, h.Links().SetUp(t.Context(), ns, b.Index, true))
		err := h.Bonds().Enslave(t.Context(), ns, b.Index, b.Index)
		assert.ErrorIs(t, err, domain.ErrKernelRefused)
		got := linkNamed(t, h, ns, "bond0")
		assert.True(t, got.Up, "up again, as before the call")
		assert.Zero(t, got.MasterIndex)
	})

	t.Run("enslaving a link enslaved to another bond is ErrBusy", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b1 := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeActiveBackup)})
		b2 := createBond(t, h, ns, domain.BondSpec{Name: "bond1", Options: plainOptions(domain.ModeActiveBackup)})
		l := h.NewLink(t, ns, "ct0", 0)
		enslave(t, h, ns, b1, l)

		err := h.Bonds().Enslave(t.Context(), ns, b2.Index, l.Index)
		assert.ErrorIs(t, err, domain.ErrBusy)
		assert.Equal(t, b1.Index, linkNamed(t, h, ns, "ct0").MasterIndex)
		assert.Equal(t, []string{"ct0"}, slaveNames(bondNamed(t, h, ns, "bond0")))
		assert.Empty(t, bondNamed(t, h, ns, "bond1").Slaves)
	})

	t.Run("release leaves the slave down with its MAC and MTU back", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeBalanceRR), MTU: 9000})
		l1, l2 := h.NewLink(t, ns, "ct0", 1500), h.NewLink(t, ns, "ct1", 1500)
		enslave(t, h, ns, b, l1, l2)

		// fail_over_mac none: the bond took the first slave's MAC and
		// gave it to every slave.
		assert.Equal(t, l1.MAC, linkNamed(t, h, ns, "bond0").MAC)
		assert.Equal(t, l1.MAC, linkNamed(t, h, ns, "ct1").MAC)
		assert.Equal(t, 9000, linkNamed(t, h, ns, "ct1").MTU)

		require.NoError(t, h.Bonds().Release(t.Context(), ns, l2.Index))
		got := linkNamed(t, h, ns, "ct1")
		assert.Zero(t, got.MasterIndex)
		assert.False(t, got.Up, "a released slave is down")
		assert.Equal(t, l2.MAC, got.MAC)
		assert.Equal(t, 1500, got.MTU)
		assert.Equal(t, []string{"ct0"}, slaveNames(bondNamed(t, h, ns, "bond0")))

		// The last slave gone, the bond gets a new random MAC.
		require.NoError(t, h.Bonds().Release(t.Context(), ns, l1.Index))
		assert.Equal(t, l1.MAC, linkNamed(t, h, ns, "ct0").MAC)
		assert.NotEqual(t, l1.MAC, linkNamed(t, h, ns, "bond0").MAC)
		assert.Empty(t, bondNamed(t, h, ns, "bond0").Slaves)
	})

	t.Run("release of a link without a master changes nothing", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))
		require.NoError(t, h.Bonds().Release(t.Context(), ns, l.Index))
		assert.True(t, linkNamed(t, h, ns, "ct0").Up)
	})

	t.Run("a MAC given at create goes to every slave", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		mac := unusedMAC(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeBalanceXOR), MAC: mac})
		l1, l2 := h.NewLink(t, ns, "ct0", 0), h.NewLink(t, ns, "ct1", 0)
		enslave(t, h, ns, b, l1, l2)
		assert.Equal(t, mac, linkNamed(t, h, ns, "bond0").MAC)
		assert.Equal(t, mac, linkNamed(t, h, ns, "ct0").MAC)
		assert.Equal(t, mac, linkNamed(t, h, ns, "ct1").MAC)
		st := bondNamed(t, h, ns, "bond0")
		assert.Equal(t, []net.HardwareAddr{l1.MAC, l2.MAC}, permMACs(st))
	})

	t.Run("fail_over_mac active leaves slave MACs alone and the bond takes the active one's", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		o := plainOptions(domain.ModeActiveBackup)
		o.FailOverMac = new(domain.FailOverMacActive)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: o})
		l1, l2 := h.NewLink(t, ns, "ct0", 0), h.NewLink(t, ns, "ct1", 0)
		enslave(t, h, ns, b, l1, l2)

		assert.Equal(t, l1.MAC, linkNamed(t, h, ns, "ct0").MAC)
		assert.Equal(t, l2.MAC, linkNamed(t, h, ns, "ct1").MAC)
		st := bondNamed(t, h, ns, "bond0")
		require.NotEmpty(t, st.ActiveSlave)
		active := linkNamed(t, h, ns, st.ActiveSlave)
		assert.Equal(t, active.MAC, st.Link.MAC)

		require.NoError(t, h.Bonds().Release(t.Context(), ns, l2.Index))
		assert.Equal(t, l2.MAC, linkNamed(t, h, ns, "ct1").MAC)
	})

	t.Run("the primary becomes the active slave", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l1, l2 := h.NewLink(t, ns, "ct0", 0), h.NewLink(t, ns, "ct1", 0)
		o := plainOptions(domain.ModeActiveBackup)
		o.FailOverMac = new(domain.FailOverMacActive)
		o.Primary = "ct1"
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: o})
		enslave(t, h, ns, b, l1, l2)

		st := bondNamed(t, h, ns, "bond0")
		assert.Equal(t, "ct1", st.Options.Primary)
		assert.Equal(t, "ct1", st.ActiveSlave)
		assert.Equal(t, l2.MAC, st.Link.MAC)
	})

	t.Run("the bond's MTU goes to its slaves", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.Mode8023AD), MTU: 9000})
		l1, l2 := h.NewLink(t, ns, "ct0", 1500), h.NewLink(t, ns, "ct1", 1400)
		enslave(t, h, ns, b, l1, l2)
		assert.Equal(t, 9000, linkNamed(t, h, ns, "bond0").MTU)
		assert.Equal(t, 9000, linkNamed(t, h, ns, "ct0").MTU)
		assert.Equal(t, 9000, linkNamed(t, h, ns, "ct1").MTU)
	})

	t.Run("deleting the bond releases its slaves", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeBalanceRR), MTU: 9000})
		l1, l2 := h.NewLink(t, ns, "ct0", 1500), h.NewLink(t, ns, "ct1", 1500)
		enslave(t, h, ns, b, l1, l2)

		require.NoError(t, h.Links().Delete(t.Context(), ns, b.Index))
		_, err := h.Bonds().Bond(t.Context(), ns, "bond0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		for _, orig := range []domain.Link{l1, l2} {
			got := linkNamed(t, h, ns, orig.Name)
			assert.Zero(t, got.MasterIndex, orig.Name)
			assert.False(t, got.Up, orig.Name)
			assert.Equal(t, orig.MAC, got.MAC, orig.Name)
			assert.Equal(t, 1500, got.MTU, orig.Name)
		}
	})

	t.Run("a bond cannot move to another netns", func(t *testing.T) {
		h := mk(t)
		ns, other := h.NewNetns(t), h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeActiveBackup)})
		_, err := h.Links().Move(t.Context(), ns, b.Index, other, "bond0")
		assert.ErrorIs(t, err, domain.ErrKernelRefused)
		assert.Equal(t, b.Index, linkNamed(t, h, ns, "bond0").Index)
		_, err = h.Links().Link(t.Context(), other, "bond0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("moving a slave to another netns releases it", func(t *testing.T) {
		h := mk(t)
		ns, other := h.NewNetns(t), h.NewNetns(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeBalanceRR), MTU: 9000})
		l1, l2 := h.NewLink(t, ns, "ct0", 1500), h.NewLink(t, ns, "ct1", 1500)
		enslave(t, h, ns, b, l1, l2)

		moved, err := h.Links().Move(t.Context(), ns, l2.Index, other, "ct1")
		require.NoError(t, err)
		assert.Zero(t, moved.MasterIndex)
		assert.False(t, moved.Up)
		assert.Equal(t, l2.MAC, moved.MAC)
		assert.Equal(t, 1500, moved.MTU)
		assert.Equal(t, []string{"ct0"}, slaveNames(bondNamed(t, h, ns, "bond0")))
	})

	t.Run("destroying a netns kills its bond", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		name := "bd" + randomSuffix(t)
		b := createBond(t, h, ns, domain.BondSpec{Name: name, Options: plainOptions(domain.ModeActiveBackup)})
		enslave(t, h, ns, b, h.NewLink(t, ns, "ct0", 0))
		h.DestroyNetns(t, ns)
		_, err := h.Links().Link(t.Context(), domain.HostNetns, name)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
}

// plainOptions is a bond with the MII monitor and nothing else.
func plainOptions(m domain.Mode) domain.BondOptions {
	return domain.BondOptions{Mode: m, Miimon: new(uint32(100))}
}

// arpMonitor: the ARP monitor's options, which exclude the MII monitor.
func arpMonitor(r domain.BondOption) bool { return strings.HasPrefix(r.Kernel, "arp_") }

// modeOptions sets every numeric option of the option table that mode m
// accepts to its row's Sample, the MII monitor with its delays included.
// The ARP monitor's options have their own case, and primary needs a
// slave (both have their own cases).
func modeOptions(t *testing.T, m domain.Mode) domain.BondOptions {
	o := domain.BondOptions{Mode: m}
	for r := range domain.BondOptionRows() {
		if !r.Numeric() || arpMonitor(r) || !r.AcceptsMode(m) {
			continue
		}
		if r.Kernel == "tlb_dynamic_lb" && m == domain.ModeBalanceALB {
			continue // balance-alb requires 1, its default
		}
		require.NoError(t, r.SetSample(&o))
	}
	return o
}

// assertOptions checks that every option requested in want reads back
// equal (no drift); the kernel reports the others too, with their defaults.
func assertOptions(t *testing.T, want, got domain.BondOptions) {
	t.Helper()
	assert.Equal(t, want.Mode, got.Mode, "mode")
	for r := range domain.BondOptionRows() {
		assert.Empty(t, r.Drift(&want, &got), "%s reads back as created", r.Kernel)
	}
}

func createBond(t *testing.T, h Harness, ns domain.Netns, spec domain.BondSpec) domain.Link {
	t.Helper()
	l, err := h.Bonds().CreateBond(t.Context(), ns, spec, testAlias)
	require.NoError(t, err, "creating bond %s", spec.Name)
	return l
}

func enslave(t *testing.T, h Harness, ns domain.Netns, bond domain.Link, links ...domain.Link) {
	t.Helper()
	for _, l := range links {
		require.NoError(t, h.Bonds().Enslave(t.Context(), ns, bond.Index, l.Index), "enslaving %s to %s", l.Name, bond.Name)
	}
}

func bondNamed(t *testing.T, h Harness, ns domain.Netns, name string) domain.BondState {
	t.Helper()
	st, err := h.Bonds().Bond(t.Context(), ns, name)
	require.NoError(t, err, "reading bond %s", name)
	return st
}

// slaveNames lists the bond's slaves, sorted.
func slaveNames(st domain.BondState) []string {
	var out []string
	for _, s := range st.Slaves {
		out = append(out, s.Link.Name)
	}
	slices.Sort(out)
	return out
}

// permMACs lists the slaves' perm_hwaddr in slave-name order.
func permMACs(st domain.BondState) []net.HardwareAddr {
	s := slices.Clone(st.Slaves)
	slices.SortFunc(s, func(a, b domain.SlaveState) int { return strings.Compare(a.Link.Name, b.Link.Name) })
	var out []net.HardwareAddr
	for _, x := range s {
		out = append(out, x.PermMAC)
	}
	return out
}
