package memory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

var errBoom = errors.New("boom")

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// node is a host with two NICs, eth1 up, and an empty pod netns.
func node(t *testing.T) (*Kernel, domain.Netns) {
	t.Helper()
	k := NewKernel()
	k.AddPhysical(domain.HostNetns, "eth1", 1500, mac("52:54:00:00:00:01"))
	k.AddPhysical(domain.HostNetns, "eth2", 9000, mac("52:54:00:00:00:02"))
	k.SetAdminUp(domain.HostNetns, "eth1", true)
	return k, k.AddNetns("/run/netns/pod")
}

// miniAdd is the shape of an ADD: move both NICs into the pod, create a
// bond, enslave them, bring it up, configure it; on failure it undoes what
// it did, in reverse, as app.Add does.
func miniAdd(ctx context.Context, k *Kernel, pod domain.Netns, spec domain.BondSpec) error {
	var undo []func() error
	fail := func(err error) error {
		for _, u := range slices.Backward(undo) {
			if uerr := u(); uerr != nil {
				return errors.Join(err, uerr)
			}
		}
		return err
	}
	podIdx := map[string]int{}
	for _, name := range spec.Links {
		l, err := k.Link(ctx, domain.HostNetns, name)
		if err != nil {
			return fail(err)
		}
		orig := domain.StateOf(l)
		moved, err := k.Move(ctx, domain.HostNetns, l.Index, pod, name)
		if err != nil {
			return fail(err)
		}
		podIdx[name] = moved.Index
		undo = append(undo, func() error {
			back, err := k.Move(ctx, pod, podIdx[name], domain.HostNetns, name)
			if err != nil {
				return err
			}
			return k.Restore(ctx, domain.HostNetns, back.Index, orig)
		})
	}
	b, err := k.CreateBond(ctx, pod, spec, "bond-cni:test")
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() error { return k.Delete(ctx, pod, b.Index) })
	for _, name := range spec.Links {
		if err := k.Enslave(ctx, pod, b.Index, podIdx[name]); err != nil {
			return fail(err)
		}
		undo = append(undo, func() error { return k.Release(ctx, pod, podIdx[name]) })
	}
	if err := k.SetUp(ctx, pod, b.Index, true); err != nil {
		return fail(err)
	}
	undo = append(undo, func() error { return k.SetUp(ctx, pod, b.Index, false) })
	gw := netip.MustParseAddr("10.0.0.1")
	err = k.Configure(ctx, pod, b.Index,
		[]domain.IPConfig{{Address: netip.MustParsePrefix("10.0.0.2/24"), Gateway: gw}},
		[]domain.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: gw}})
	if err != nil {
		return fail(err)
	}
	return nil
}

func abSpec() domain.BondSpec {
	return domain.BondSpec{
		Name:    "bond0",
		Options: domain.BondOptions{Mode: domain.ModeActiveBackup, Miimon: new(uint32(100))},
		MTU:     1500,
		Links:   []string{"eth1", "eth2"},
	}
}

func TestFailEveryStepLeavesTheNodeAsFound(t *testing.T) {
	for _, spec := range []domain.BondSpec{abSpec(), func() domain.BondSpec {
		s := abSpec()
		s.Options.FailOverMac = new(domain.FailOverMacActive)
		return s
	}(), func() domain.BondSpec {
		s := abSpec()
		s.Options = domain.BondOptions{Mode: domain.ModeBalanceRR, Miimon: new(uint32(100))}
		s.MTU = 9000
		return s
	}()} {
		name := spec.Options.Mode.String()
		if spec.Options.FailOverMac != nil {
			name += "/fail_over_mac " + spec.Options.FailOverMac.String()
		}
		t.Run(name, func(t *testing.T) {
			steps := 0
			for k := 0; ; k++ {
				kern, pod := node(t)
				before := kern.Snapshot()
				kern.FailAfter(k, errBoom)
				err := miniAdd(t.Context(), kern, pod, spec)
				if kern.PendingFaults() == 1 {
					require.NoError(t, err, "nothing was injected, the ADD must succeed")
					steps = k
					break
				}
				require.ErrorIs(t, err, errBoom, "step %d", k)
				assert.Equal(t, before, kern.Snapshot(), "step %d:\n%s\nops:\n%v", k, kern.Snapshot(), kern.Ops())
			}
			assert.Equal(t, 7, steps, "mutating steps of the mini ADD: 2 moves, create, 2 enslaves, up, configure")
		})
	}
}

func TestFailAfterCountsOnlyMutatingCalls(t *testing.T) {
	k, pod := node(t)
	ctx := t.Context()
	k.FailAfter(1, errBoom)
	l, err := k.Link(ctx, domain.HostNetns, "eth1")
	require.NoError(t, err)
	_, err = k.LinkByIndex(ctx, domain.HostNetns, l.Index)
	require.NoError(t, err)
	require.NoError(t, k.SetUp(ctx, domain.HostNetns, l.Index, false)) // mutating call 1
	before := k.Snapshot()
	_, err = k.Move(ctx, domain.HostNetns, l.Index, pod, "eth1") // 2: fails
	var inj *InjectedError
	require.ErrorAs(t, err, &inj)
	assert.Equal(t, "Move", inj.Op)
	assert.ErrorIs(t, err, errBoom)
	assert.Equal(t, before, k.Snapshot(), "an injected failure changes nothing")
	assert.Equal(t, []string{"Move"}, k.Injected())
	_, err = k.Move(ctx, domain.HostNetns, l.Index, pod, "eth1")
	assert.NoError(t, err, "one-shot")
}

func TestFailOnNamedCall(t *testing.T) {
	k, pod := node(t)
	ctx := t.Context()
	k.FailOn("Move", 2, errBoom)
	k.FailOn("Link", 1, errBoom)
	assert.Equal(t, 2, k.PendingFaults())

	_, err := k.Link(ctx, domain.HostNetns, "eth1")
	assert.ErrorIs(t, err, errBoom, "reads can fail too")
	l1, _ := k.Peek(domain.HostNetns, "eth1")
	l2, _ := k.Peek(domain.HostNetns, "eth2")
	_, err = k.Move(ctx, domain.HostNetns, l1.Index, pod, "eth1")
	require.NoError(t, err)
	_, err = k.Move(ctx, domain.HostNetns, l2.Index, pod, "eth2")
	assert.ErrorIs(t, err, errBoom)
	_, ok := k.Peek(domain.HostNetns, "eth2")
	assert.True(t, ok, "the failed move moved nothing")
	assert.Zero(t, k.PendingFaults())

	k.FailOn("Delete", 1, errBoom)
	k.ClearFaults()
	assert.Zero(t, k.PendingFaults())
	assert.Len(t, k.Ops(), 2)
}

func TestContextIsHonoured(t *testing.T) {
	k, _ := node(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := k.Link(ctx, domain.HostNetns, "eth1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSnapshotIsDeterministicAndComplete(t *testing.T) {
	build := func() *Kernel {
		k, pod := node(t)
		k.AddVirtual(pod, "veth", "eth0", 0, nil)
		k.AddAddress(pod, "eth0", netip.MustParsePrefix("192.168.1.5/24"))
		k.SetAdminUp(pod, "eth0", true)
		k.AddRoute(pod, "eth0", domain.Route{Dst: netip.MustParsePrefix("172.16.0.0/12"), GW: netip.MustParseAddr("192.168.1.1")})
		require.NoError(t, miniAdd(t.Context(), k, pod, abSpec()))
		return k
	}
	a, b := build(), build()
	t.Run("a pod default route clashes with the bond's", func(t *testing.T) {
		k, pod := node(t)
		k.AddVirtual(pod, "veth", "eth0", 0, nil)
		k.AddRoute(pod, "eth0", domain.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("192.168.1.1")})
		before := k.Snapshot()
		err := miniAdd(t.Context(), k, pod, abSpec())
		assert.ErrorIs(t, err, domain.ErrExists)
		assert.Equal(t, before, k.Snapshot())
	})
	assert.Equal(t, a.Snapshot(), b.Snapshot())
	assert.True(t, a.Snapshot().Equal(b.Snapshot()))
	assert.Equal(t, a.Snapshot().String(), b.Snapshot().String())

	s := a.Snapshot().String()
	for _, want := range []string{"host netns:", "netns /run/netns/pod:", "bond0", "mode=active-backup", "perm_hwaddr=52:54:00:00:00:01",
		"10.0.0.2/24", "route 172.16.0.0/12 via 192.168.1.1 dev eth0", "route 0.0.0.0/0 via 10.0.0.1 dev bond0", `pci="0000:11:00.0"`} {
		assert.Contains(t, s, want)
	}

	before := a.Snapshot()
	a.SetSpeed(domain.HostNetns, "lo", 1, "full")
	assert.NotEqual(t, before, a.Snapshot(), "every attribute counts")
	assert.False(t, before.Equal(a.Snapshot()))
}

func TestDestroyNetnsReturnsPhysicalLinks(t *testing.T) {
	k, pod := node(t)
	ctx := t.Context()
	require.NoError(t, miniAdd(ctx, k, pod, abSpec()))
	eth1, _ := k.Peek(pod, "eth1")
	// Another NIC named eth1 appeared on the host meanwhile.
	k.AddPhysical(domain.HostNetns, "eth1", 0, nil)
	veth := k.AddVirtual(pod, "veth", "eth0", 0, nil)

	k.DestroyNetns(pod)
	assert.NotContains(t, k.ListNetns(), pod)
	assert.ErrorIs(t, k.Check(ctx, pod), domain.ErrNotFound)

	back, ok := k.Peek(domain.HostNetns, fmt.Sprintf("dev%d", eth1.Index))
	require.True(t, ok, "eth1's name is taken: it comes back as dev<ifindex>\n%s", k.Snapshot())
	assert.Equal(t, eth1.Index, back.Index)
	assert.Equal(t, mac("52:54:00:00:00:01"), back.MAC)
	assert.Zero(t, back.MasterIndex)
	assert.False(t, back.Up)
	eth2, ok := k.Peek(domain.HostNetns, "eth2")
	require.True(t, ok)
	assert.Equal(t, 9000, eth2.MTU, "released: MTU restored")
	assert.Equal(t, mac("52:54:00:00:00:02"), eth2.MAC, "released: MAC restored")
	for _, name := range []string{"bond0", "eth0"} {
		_, ok := k.Peek(domain.HostNetns, name)
		assert.False(t, ok, "%s is virtual and dies", name)
	}
	_, err := k.LinkByIndex(ctx, domain.HostNetns, veth.Index)
	assert.ErrorIs(t, err, domain.ErrNotFound)

	l, err := k.LinkByMAC(ctx, domain.HostNetns, mac("52:54:00:00:00:01"))
	require.NoError(t, err)
	assert.Equal(t, back.Name, l.Name)
}

func TestEnslaveRules(t *testing.T) {
	ctx := t.Context()
	setup := func(t *testing.T, o domain.BondOptions) (*Kernel, domain.Netns, domain.Link) {
		k := NewKernel()
		ns := k.AddNetns("/run/netns/a")
		b, err := k.CreateBond(ctx, ns, domain.BondSpec{Name: "bond0", Options: o}, "")
		require.NoError(t, err)
		return k, ns, b
	}
	ab := domain.BondOptions{Mode: domain.ModeActiveBackup, Miimon: new(uint32(100))}

	t.Run("a bridge cannot be enslaved", func(t *testing.T) {
		k, ns, b := setup(t, ab)
		br := k.AddVirtual(ns, "bridge", "br0", 0, nil)
		err := k.Enslave(ctx, ns, b.Index, br.Index)
		assert.ErrorIs(t, err, domain.ErrKernelRefused)
		assert.Equal(t, "EPERM", ErrnoOf(err))
	})
	t.Run("a bond cannot enslave itself", func(t *testing.T) {
		k, ns, b := setup(t, ab)
		err := k.Enslave(ctx, ns, b.Index, b.Index)
		assert.Equal(t, "EPERM", ErrnoOf(err))
	})
	t.Run("bond in bond is allowed", func(t *testing.T) {
		k, ns, b := setup(t, ab)
		inner, err := k.CreateBond(ctx, ns, domain.BondSpec{Name: "bond1", Options: ab}, "")
		require.NoError(t, err)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, inner.Index))
	})
	t.Run("the master must be in the slave's netns", func(t *testing.T) {
		k, ns, b := setup(t, ab)
		other := k.AddNetns("/run/netns/b")
		l := k.AddVirtual(other, "veth", "ct0", 0, nil)
		err := k.Enslave(ctx, other, b.Index, l.Index)
		assert.Equal(t, "EINVAL", ErrnoOf(err))
		_, err = k.LinkByIndex(ctx, ns, l.Index)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("a slave whose range excludes the bond MTU is refused", func(t *testing.T) {
		k, ns, _ := setup(t, ab)
		b, err := k.CreateBond(ctx, ns, domain.BondSpec{Name: "bond1", Options: ab, MTU: 9500}, "")
		require.NoError(t, err)
		l := k.AddPhysical(ns, "eth1", 0, nil)
		err = k.Enslave(ctx, ns, b.Index, l.Index)
		assert.Equal(t, "EINVAL", ErrnoOf(err))
		got, _ := k.Peek(ns, "eth1")
		assert.Zero(t, got.MasterIndex)
		assert.Equal(t, 1500, got.MTU)
	})
	t.Run("enslaving to the same bond again changes nothing", func(t *testing.T) {
		k, ns, b := setup(t, ab)
		l := k.AddVirtual(ns, "veth", "ct0", 0, nil)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l.Index))
		before := k.Snapshot()
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l.Index))
		assert.Equal(t, before, k.Snapshot())
	})
	t.Run("802.3ad slaves without speed enslave but are down", func(t *testing.T) {
		k, ns, b := setup(t, domain.BondOptions{Mode: domain.Mode8023AD})
		l1 := k.AddVirtual(ns, "dummy", "d0", 0, nil)
		l2 := k.AddVirtual(ns, "veth", "v0", 0, nil)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l1.Index))
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l2.Index))
		require.NoError(t, k.SetUp(ctx, ns, b.Index, true))
		st, err := k.Bond(ctx, ns, "bond0")
		require.NoError(t, err)
		require.Len(t, st.Slaves, 2)
		assert.Equal(t, "down", st.Slaves[0].MIIStatus)
		assert.Equal(t, "up", st.Slaves[1].MIIStatus)
		assert.Equal(t, uint32(100), *st.Options.Miimon, "802.3ad turns the MII monitor on")
		require.NotNil(t, st.AdInfo)
		assert.Equal(t, uint16(1), st.AdInfo.NumPorts)
		assert.True(t, st.Link.Carrier)
	})
	t.Run("an unplugged slave is down and not chosen", func(t *testing.T) {
		k, ns, b := setup(t, ab)
		l1 := k.AddVirtual(ns, "veth", "ct0", 0, nil)
		l2 := k.AddVirtual(ns, "veth", "ct1", 0, nil)
		k.SetCarrier(ns, "ct0", false)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l1.Index))
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l2.Index))
		st, err := k.Bond(ctx, ns, "bond0")
		require.NoError(t, err)
		assert.Equal(t, "ct1", st.ActiveSlave)
		assert.Equal(t, "down", st.Slaves[0].MIIStatus)
	})
	t.Run("updelay leaves a slave back until the bond is up", func(t *testing.T) {
		o := ab
		o.UpDelay = new(uint32(200))
		k, ns, b := setup(t, o)
		l := k.AddVirtual(ns, "veth", "ct0", 0, nil)
		l2 := k.AddVirtual(ns, "veth", "ct1", 0, nil)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l.Index))
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l2.Index))
		st, _ := k.Bond(ctx, ns, "bond0")
		assert.Equal(t, "ct0", st.ActiveSlave, "a back slave can be chosen")
		assert.Equal(t, "up", st.Slaves[0].MIIStatus, "the chosen one is up at once")
		assert.Equal(t, "back", st.Slaves[1].MIIStatus)
		require.NoError(t, k.SetUp(ctx, ns, b.Index, true))
		st, _ = k.Bond(ctx, ns, "bond0")
		assert.Equal(t, "up", st.Slaves[1].MIIStatus)
	})
}

func TestFailOverMac(t *testing.T) {
	ctx := t.Context()
	m1, m2 := mac("52:54:00:00:00:01"), mac("52:54:00:00:00:02")
	run := func(t *testing.T, o domain.BondOptions, bondMAC net.HardwareAddr) (*Kernel, domain.Netns, domain.Link, domain.Link, domain.Link) {
		k := NewKernel()
		ns := k.AddNetns("/run/netns/a")
		b, err := k.CreateBond(ctx, ns, domain.BondSpec{Name: "bond0", Options: o, MAC: bondMAC}, "")
		require.NoError(t, err)
		l1 := k.AddPhysical(ns, "eth1", 0, m1)
		l2 := k.AddPhysical(ns, "eth2", 0, m2)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l1.Index))
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l2.Index))
		return k, ns, b, l1, l2
	}
	macs := func(k *Kernel, ns domain.Netns) []string {
		var out []string
		for _, n := range []string{"bond0", "eth1", "eth2"} {
			l, _ := k.Peek(ns, n)
			out = append(out, l.MAC.String())
		}
		return out
	}
	ab := func(f domain.FailOverMac) domain.BondOptions {
		return domain.BondOptions{Mode: domain.ModeActiveBackup, Miimon: new(uint32(100)), FailOverMac: &f}
	}

	t.Run("none: every slave gets the first slave's MAC", func(t *testing.T) {
		k, ns, _, _, l2 := run(t, ab(domain.FailOverMacNone), nil)
		assert.Equal(t, []string{m1.String(), m1.String(), m1.String()}, macs(k, ns))
		require.NoError(t, k.Release(ctx, ns, l2.Index))
		assert.Equal(t, []string{m1.String(), m1.String(), m2.String()}, macs(k, ns))
	})
	t.Run("none with a bond MAC: slaves get it", func(t *testing.T) {
		bm := mac("02:00:00:00:00:99")
		k, ns, _, _, _ := run(t, ab(domain.FailOverMacNone), bm)
		assert.Equal(t, []string{bm.String(), bm.String(), bm.String()}, macs(k, ns))
	})
	t.Run("active: slaves keep theirs, the bond follows the active one", func(t *testing.T) {
		k, ns, _, l1, _ := run(t, ab(domain.FailOverMacActive), nil)
		assert.Equal(t, []string{m1.String(), m1.String(), m2.String()}, macs(k, ns))
		// The active slave goes down: eth2 takes over, the bond takes its MAC.
		b, _ := k.Peek(ns, "bond0")
		require.NoError(t, k.SetUp(ctx, ns, b.Index, true))
		require.NoError(t, k.SetUp(ctx, ns, l1.Index, false))
		st, _ := k.Bond(ctx, ns, "bond0")
		assert.Equal(t, "eth2", st.ActiveSlave)
		assert.Equal(t, []string{m2.String(), m1.String(), m2.String()}, macs(k, ns))
		// Setting the bond's MAC is silently ignored.
		require.NoError(t, k.Restore(ctx, ns, b.Index, domain.LinkState{MAC: mac("02:00:00:00:00:77"), Up: true}))
		assert.Equal(t, m2.String(), macs(k, ns)[0])
		// Release never touches slave MACs.
		require.NoError(t, k.Release(ctx, ns, l1.Index))
		assert.Equal(t, m1.String(), macs(k, ns)[1])
	})
	t.Run("follow: the bond takes the first slave's, later slaves keep theirs", func(t *testing.T) {
		k, ns, _, l1, _ := run(t, ab(domain.FailOverMacFollow), nil)
		assert.Equal(t, []string{m1.String(), m1.String(), m2.String()}, macs(k, ns))
		b, _ := k.Peek(ns, "bond0")
		require.NoError(t, k.SetUp(ctx, ns, b.Index, true))
		require.NoError(t, k.SetUp(ctx, ns, l1.Index, false))
		assert.Equal(t, []string{m1.String(), m2.String(), m1.String()}, macs(k, ns), "failover swaps the MACs")
	})
	t.Run("follow: a later slave carrying the bond MAC gets a random one", func(t *testing.T) {
		k := NewKernel()
		ns := k.AddNetns("/run/netns/a")
		b, err := k.CreateBond(ctx, ns, domain.BondSpec{Name: "bond0", Options: ab(domain.FailOverMacFollow)}, "")
		require.NoError(t, err)
		l1 := k.AddPhysical(ns, "eth1", 0, m1)
		l2 := k.AddPhysical(ns, "eth2", 0, m1)
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l1.Index))
		require.NoError(t, k.Enslave(ctx, ns, b.Index, l2.Index))
		got, _ := k.Peek(ns, "eth2")
		assert.NotEqual(t, m1, got.MAC)
		require.NoError(t, k.Release(ctx, ns, l2.Index))
		got, _ = k.Peek(ns, "eth2")
		assert.Equal(t, m1, got.MAC)
	})
	t.Run("active outside active-backup acts as none", func(t *testing.T) {
		o := domain.BondOptions{Mode: domain.ModeBalanceXOR, Miimon: new(uint32(100)), FailOverMac: new(domain.FailOverMacActive)}
		k, ns, _, _, _ := run(t, o, nil)
		assert.Equal(t, []string{m1.String(), m1.String(), m1.String()}, macs(k, ns))
	})
	t.Run("tlb: slaves keep their own MACs, the active one carries the bond's", func(t *testing.T) {
		o := domain.BondOptions{Mode: domain.ModeBalanceTLB, Miimon: new(uint32(100))}
		k, ns, _, _, _ := run(t, o, nil)
		assert.Equal(t, []string{m1.String(), m1.String(), m2.String()}, macs(k, ns))
	})
	t.Run("the last release gives the bond a new random MAC", func(t *testing.T) {
		k, ns, _, l1, l2 := run(t, ab(domain.FailOverMacNone), nil)
		require.NoError(t, k.Release(ctx, ns, l1.Index))
		require.NoError(t, k.Release(ctx, ns, l2.Index))
		got := macs(k, ns)
		assert.NotEqual(t, m1.String(), got[0])
		assert.Equal(t, []string{m1.String(), m2.String()}, got[1:])
	})
}

func TestCreateBondOptionRules(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name  string
		o     domain.BondOptions
		errno string
	}{
		{"miimon and arp_interval in one message", domain.BondOptions{Mode: domain.ModeActiveBackup, Miimon: new(uint32(100)), ArpInterval: new(uint32(100))}, "EINVAL"},
		{"arp_validate with miimon", domain.BondOptions{Mode: domain.ModeActiveBackup, Miimon: new(uint32(100)), ArpValidate: new(domain.ArpValidate(1))}, "EINVAL"},
		{"updelay without miimon", domain.BondOptions{Mode: domain.ModeActiveBackup, UpDelay: new(uint32(100))}, "EPERM"},
		{"arp_interval in tlb", domain.BondOptions{Mode: domain.ModeBalanceTLB, ArpInterval: new(uint32(0))}, "EACCES"},
		{"lacp_rate outside 802.3ad", domain.BondOptions{Mode: domain.ModeActiveBackup, LacpRate: new(domain.LacpRate(1))}, "EACCES"},
		{"packets_per_slave outside rr", domain.BondOptions{Mode: domain.ModeBalanceXOR, PacketsPerSlave: new(uint32(1))}, "EACCES"},
		{"tlb_dynamic_lb outside tlb/alb", domain.BondOptions{Mode: domain.ModeActiveBackup, TLBDynamicLB: new(uint8(0))}, "EACCES"},
		{"primary outside AB/TLB/ALB", domain.BondOptions{Mode: domain.ModeBalanceRR, Primary: "lo"}, "EACCES"},
		{"bad mode", domain.BondOptions{Mode: 9}, "EINVAL"},
		{"bad fail_over_mac", domain.BondOptions{Mode: domain.ModeActiveBackup, FailOverMac: new(domain.FailOverMac(3))}, "EINVAL"},
		{"broadcast arp target", domain.BondOptions{Mode: domain.ModeActiveBackup, ArpIPTargets: []netip.Addr{netip.MustParseAddr("255.255.255.255")}}, "EINVAL"},
		{"duplicate arp target", domain.BondOptions{Mode: domain.ModeActiveBackup, ArpIPTargets: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.1")}}, "EINVAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKernel()
			before := k.Snapshot()
			_, err := k.CreateBond(ctx, domain.HostNetns, domain.BondSpec{Name: "bond0", Options: tt.o}, "")
			require.Error(t, err)
			assert.ErrorIs(t, err, domain.ErrKernelRefused)
			assert.Equal(t, tt.errno, ErrnoOf(err), err.Error())
			assert.Equal(t, before, k.Snapshot(), "nothing left behind")
		})
	}

	t.Run("delays are rounded down to a multiple of miimon", func(t *testing.T) {
		k := NewKernel()
		_, err := k.CreateBond(ctx, domain.HostNetns, domain.BondSpec{Name: "bond0", Options: domain.BondOptions{
			Mode: domain.ModeActiveBackup, Miimon: new(uint32(100)), UpDelay: new(uint32(250)), DownDelay: new(uint32(99)),
		}}, "")
		require.NoError(t, err)
		st, err := k.Bond(ctx, domain.HostNetns, "bond0")
		require.NoError(t, err)
		assert.Equal(t, uint32(200), *st.Options.UpDelay)
		assert.Equal(t, uint32(0), *st.Options.DownDelay)
	})
	t.Run("defaults are reported", func(t *testing.T) {
		k := NewKernel()
		_, err := k.CreateBond(ctx, domain.HostNetns, domain.BondSpec{Name: "bond0", Options: domain.BondOptions{Mode: domain.ModeBalanceALB}}, "")
		require.NoError(t, err)
		st, err := k.Bond(ctx, domain.HostNetns, "bond0")
		require.NoError(t, err)
		o := st.Options
		assert.Equal(t, uint32(100), *o.Miimon)
		assert.Equal(t, uint8(1), *o.NumGratArp)
		assert.Equal(t, uint32(1), *o.PacketsPerSlave)
		assert.Equal(t, uint8(1), *o.TLBDynamicLB)
		assert.Equal(t, domain.FailOverMacNone, *o.FailOverMac)
		assert.Nil(t, o.ArpIPTargets)
		assert.Empty(t, o.Primary)
	})
	t.Run("a primary that does not exist is ErrNotFound", func(t *testing.T) {
		k := NewKernel()
		_, err := k.CreateBond(ctx, domain.HostNetns, domain.BondSpec{Name: "bond0", Options: domain.BondOptions{Mode: domain.ModeActiveBackup, Primary: "eth9"}}, "")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("invalid name and MAC", func(t *testing.T) {
		k := NewKernel()
		o := domain.BondOptions{Mode: domain.ModeActiveBackup}
		_, err := k.CreateBond(ctx, domain.HostNetns, domain.BondSpec{Name: "a-name-longer-than-15", Options: o}, "")
		assert.Equal(t, "EINVAL", ErrnoOf(err))
		_, err = k.CreateBond(ctx, domain.HostNetns, domain.BondSpec{Name: "bond0", Options: o, MAC: mac("01:00:5e:00:00:01")}, "")
		assert.Equal(t, "EADDRNOTAVAIL", ErrnoOf(err))
	})
}

func TestLinkRules(t *testing.T) {
	ctx := t.Context()
	k, pod := node(t)
	eth1, _ := k.Peek(domain.HostNetns, "eth1")
	lo, _ := k.Peek(domain.HostNetns, "lo")
	assert.True(t, lo.Loopback)
	assert.Equal(t, 1, lo.Index)
	assert.Equal(t, mac("52:54:00:00:00:01"), eth1.PermMAC)

	err := k.Delete(ctx, domain.HostNetns, eth1.Index)
	assert.ErrorIs(t, err, domain.ErrUnsupported, "a NIC cannot be deleted")
	_, err = k.Move(ctx, domain.HostNetns, lo.Index, pod, "lo1")
	assert.ErrorIs(t, err, domain.ErrKernelRefused, "lo is netns-local")
	_, err = k.Move(ctx, domain.HostNetns, eth1.Index, domain.HostNetns, "eth9")
	assert.ErrorIs(t, err, domain.ErrBusy, "renaming an up link")
	err = k.Restore(ctx, domain.HostNetns, eth1.Index, domain.LinkState{Name: "eth9", Up: true})
	require.NoError(t, err, "Restore downs it first")
	got, ok := k.Peek(domain.HostNetns, "eth9")
	require.True(t, ok)
	assert.True(t, got.Up)
	assert.True(t, got.Carrier)
	err = k.Restore(ctx, domain.HostNetns, eth1.Index, domain.LinkState{MTU: 9300})
	assert.Equal(t, "EINVAL", ErrnoOf(err), "beyond the NIC's max MTU")
	_, err = k.Move(ctx, domain.HostNetns, eth1.Index, pod, "bad/name")
	assert.Equal(t, "EINVAL", ErrnoOf(err))

	file := k.AddFile("/tmp/not-a-netns")
	assert.ErrorIs(t, k.Check(ctx, file), domain.ErrNotNetns)
	_, err = k.Link(ctx, file, "lo")
	assert.ErrorIs(t, err, domain.ErrNotNetns)
	assert.NoError(t, k.Check(ctx, pod))
	assert.ErrorIs(t, k.Check(ctx, domain.HostNetns), domain.ErrNotNetns)
}

func TestLinkProps(t *testing.T) {
	ctx := t.Context()
	k, pod := node(t)
	mbps, duplex, err := k.Speed(ctx, domain.HostNetns, "eth1")
	require.NoError(t, err)
	assert.Equal(t, 10000, mbps)
	assert.Equal(t, "full", duplex)
	k.SetSpeed(domain.HostNetns, "eth1", 0, "")
	_, _, err = k.Speed(ctx, domain.HostNetns, "eth1")
	assert.ErrorIs(t, err, domain.ErrUnsupported)
	_, _, err = k.Speed(ctx, domain.HostNetns, "nope")
	assert.ErrorIs(t, err, domain.ErrNotFound)

	_, _, err = k.Speed(ctx, pod, "lo")
	assert.ErrorIs(t, err, domain.ErrUnsupported)
}

func TestConfigureRules(t *testing.T) {
	ctx := t.Context()
	k := NewKernel()
	ns := k.AddNetns("/run/netns/a")
	l := k.AddVirtual(ns, "veth", "ct0", 0, nil)
	require.NoError(t, k.SetUp(ctx, ns, l.Index, true))
	err := k.Configure(ctx, ns, l.Index, []domain.IPConfig{{Address: netip.MustParsePrefix("10.0.0.2/24")}},
		[]domain.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("10.9.9.1")}})
	assert.Equal(t, "ENETUNREACH", ErrnoOf(err), "a gateway outside the link's prefixes")
	addrs, err := k.Addresses(ctx, ns, l.Index)
	require.NoError(t, err)
	assert.Len(t, addrs, 1, "not atomic: the address stayed")

	// A direct route makes a gateway reachable; IPv6 link-local always is.
	require.NoError(t, k.Configure(ctx, ns, l.Index, nil, []domain.Route{
		{Dst: netip.MustParsePrefix("10.9.9.0/24")},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("10.9.9.1")},
		{Dst: netip.MustParsePrefix("::/0"), GW: netip.MustParseAddr("fe80::1")},
	}))
	err = k.Configure(ctx, ns, l.Index, nil, []domain.Route{{Dst: netip.MustParsePrefix("::/0"), GW: netip.MustParseAddr("fe80::2")}})
	assert.ErrorIs(t, err, domain.ErrExists)
	err = k.Configure(ctx, ns, l.Index, nil, []domain.Route{{Dst: netip.MustParsePrefix("::/0"), GW: netip.MustParseAddr("fe80::2"), Priority: 5}})
	assert.NoError(t, err, "another metric is another route")
}

func TestConcurrentUse(t *testing.T) {
	k := NewKernel()
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ns := k.AddNetns(fmt.Sprintf("/run/netns/p%d", i))
			l := k.AddVirtual(ns, "veth", "ct0", 0, nil)
			b, err := k.CreateBond(ctx, ns, domain.BondSpec{Name: "bond0", Options: domain.BondOptions{Mode: domain.ModeBalanceRR}}, "")
			if !assert.NoError(t, err) {
				return
			}
			assert.NoError(t, k.Enslave(ctx, ns, b.Index, l.Index))
			_ = k.Snapshot()
			k.DestroyNetns(ns)
		})
	}
	wg.Wait()
	assert.Equal(t, []domain.Netns{domain.HostNetns}, k.ListNetns())
}
