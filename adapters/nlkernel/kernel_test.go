package nlkernel_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/domain"
)

// These tests run the adapter on the running kernel through the real
// contract harness (root, veth); bond tests also need the bonding driver and
// skip without it.

func TestKernelLinksMoveRestore(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	links := h.Links()
	a, b := h.NewNetns(t), h.NewNetns(t)
	require.NoError(t, h.Namespaces().Check(ctx, a))

	l := h.NewLink(t, a, "eth1", 9000)
	assert.Equal(t, "veth", l.Kind)
	assert.Equal(t, 9000, l.MTU)
	assert.False(t, l.Up)

	got, err := links.LinkByIndex(ctx, a, l.Index)
	require.NoError(t, err)
	assert.Equal(t, l, got)
	got, err = links.LinkByMAC(ctx, a, l.MAC)
	require.NoError(t, err)
	assert.Equal(t, l.Index, got.Index)
	_, err = links.LinkByMAC(ctx, a, net.HardwareAddr{2, 0xde, 0xad, 0, 0, 1})
	require.ErrorIs(t, err, domain.ErrNotFound)

	orig := domain.StateOf(l)
	require.NoError(t, links.SetUp(ctx, a, l.Index, true))
	moved, err := links.Move(ctx, a, l.Index, b, "net1")
	require.NoError(t, err)
	assert.Equal(t, "net1", moved.Name)
	assert.Equal(t, 9000, moved.MTU)
	assert.False(t, moved.Up, "moving downs the link")
	_, err = links.Link(ctx, a, "eth1")
	require.ErrorIs(t, err, domain.ErrNotFound)

	// Change it, then restore the recorded state.
	require.NoError(t, links.Restore(ctx, b, moved.Index, domain.LinkState{MTU: 1400, MACText: "02:00:00:00:aa:01", Up: true}))
	changed, err := links.LinkByIndex(ctx, b, moved.Index)
	require.NoError(t, err)
	assert.Equal(t, 1400, changed.MTU)
	assert.Equal(t, "02:00:00:00:aa:01", changed.MAC.String())
	assert.True(t, changed.Up)

	orig.Up = true
	require.NoError(t, links.Restore(ctx, b, moved.Index, orig))
	back, err := links.Link(ctx, b, "eth1")
	require.NoError(t, err)
	orig.Index = back.Index // kept across moves when free, but not promised
	assert.Equal(t, orig, domain.StateOf(back))
	require.Eventually(t, func() bool {
		l, err := links.Link(ctx, b, "eth1")
		return err == nil && l.Carrier
	}, 5*time.Second, 20*time.Millisecond, "carrier comes up with the peer up")

	// A taken name in the target fails before anything moves.
	h.NewLink(t, a, "eth1", 0)
	_, err = links.Move(ctx, b, back.Index, a, "eth1")
	require.ErrorIs(t, err, domain.ErrExists)
	_, err = links.Link(ctx, b, "eth1")
	require.NoError(t, err, "still in the source namespace")

	require.NoError(t, links.Delete(ctx, b, back.Index))
	err = links.Delete(ctx, b, back.Index)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestKernelMoveToHostAndBack(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	l := h.NewLink(t, ns, "eth1", 0)
	name := "bt" + strings.ReplaceAll(l.MAC.String(), ":", "")[6:]
	host, err := h.Links().Move(ctx, ns, l.Index, domain.HostNetns, name)
	require.NoError(t, err)
	assert.Equal(t, name, host.Name)
	_, err = h.Links().Link(ctx, domain.HostNetns, name)
	require.NoError(t, err)
	back, err := h.Links().Move(ctx, domain.HostNetns, host.Index, ns, "eth1")
	require.NoError(t, err)
	assert.Equal(t, l.MAC, back.MAC)
	_, err = h.Links().Link(ctx, domain.HostNetns, name)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestKernelConfigureAddresses(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	l := h.NewLink(t, ns, "bond0", 0)
	require.NoError(t, h.Links().SetUp(ctx, ns, l.Index, true))

	table := 100
	ips := []domain.IPConfig{
		{Address: netip.MustParsePrefix("10.9.0.2/24"), Gateway: netip.MustParseAddr("10.9.0.1")},
		{Address: netip.MustParsePrefix("fd00:9::2/64")},
	}
	routes := []domain.Route{
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("10.9.0.1")},
		{Dst: netip.MustParsePrefix("10.20.0.0/16"), GW: netip.MustParseAddr("10.9.0.1"), MTU: 1400, Priority: 50},
		{Dst: netip.MustParsePrefix("10.30.0.0/16"), GW: netip.MustParseAddr("10.9.0.1"), Table: &table},
		{Dst: netip.MustParsePrefix("192.168.7.0/24")},
		{Dst: netip.MustParsePrefix("fd00:10::/64")},
	}
	require.NoError(t, h.Addresses().Configure(ctx, ns, l.Index, ips, routes))
	// Addresses again are fine.
	require.NoError(t, h.Addresses().Configure(ctx, ns, l.Index, ips, nil))
	// A duplicate route is not.
	err := h.Addresses().Configure(ctx, ns, l.Index, nil, routes[:1])
	require.ErrorIs(t, err, domain.ErrExists)

	got, err := h.Addresses().Addresses(ctx, ns, l.Index)
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.IPConfig{{Address: ips[0].Address}, {Address: ips[1].Address}}, got)

	lo, err := h.Links().Link(ctx, ns, "lo")
	require.NoError(t, err)
	got, err = h.Addresses().Addresses(ctx, ns, lo.Index)
	require.NoError(t, err)
	assert.Empty(t, got, "lo is down and has no address")
}

func TestKernelDestroyNetnsKillsVeths(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	h.NewLink(t, ns, "eth1", 0)
	h.DestroyNetns(t, ns)
	_, err := h.Links().Link(ctx, ns, "eth1")
	require.ErrorIs(t, err, domain.ErrNotFound)
	require.ErrorIs(t, h.Namespaces().Check(ctx, ns), domain.ErrNotFound)
}

func TestKernelRoundTrips(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	l := h.NewLink(t, ns, "eth1", 0)
	a := h.Links().(*nlkernel.Adapter)
	before := a.RoundTrips()
	_, err := a.Link(ctx, ns, "eth1")
	require.NoError(t, err)
	assert.Equal(t, before+1, a.RoundTrips())
	require.NoError(t, a.Restore(ctx, ns, l.Index, domain.StateOf(l)))
	assert.Equal(t, before+2, a.RoundTrips(), "restoring an unchanged link only reads it")
}

func requireBonding(t *testing.T) {
	t.Helper()
	if err := contract.RealKernelAvailable(); err != nil {
		t.Skip(err)
	}
}

func u32(v uint32) *uint32 { return &v }

func TestKernelBondLifecycle(t *testing.T) {
	h := contract.NewRealHarness(t)
	requireBonding(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	e1 := h.NewLink(t, ns, "eth1", 9000)
	e2 := h.NewLink(t, ns, "eth2", 9000)
	require.NoError(t, h.Links().SetUp(ctx, ns, e2.Index, true)) // enslave must down it

	fom := domain.FailOverMacActive
	spec := domain.BondSpec{
		Name: "bond0", MTU: 9000, Links: []string{"eth1", "eth2"},
		Options: domain.BondOptions{
			Mode: domain.ModeActiveBackup, Miimon: u32(100), UpDelay: u32(250),
			FailOverMac: &fom, Primary: "eth1",
		},
	}
	b, err := h.Bonds().CreateBond(ctx, ns, spec, "bond-cni:test")
	require.NoError(t, err)
	assert.Equal(t, "bond", b.Kind)
	assert.Equal(t, "bond-cni:test", b.Alias)
	assert.Equal(t, 9000, b.MTU)
	assert.False(t, b.Up)
	assert.True(t, b.IsMaster)

	_, err = h.Bonds().CreateBond(ctx, ns, spec, "bond-cni:test")
	require.ErrorIs(t, err, domain.ErrExists)

	require.NoError(t, h.Bonds().Enslave(ctx, ns, b.Index, e1.Index))
	require.NoError(t, h.Bonds().Enslave(ctx, ns, b.Index, e2.Index))
	require.NoError(t, h.Links().SetUp(ctx, ns, b.Index, true))
	for _, idx := range []int{e1.Index, e2.Index} {
		s, err := h.Links().LinkByIndex(ctx, ns, idx)
		require.NoError(t, err)
		assert.True(t, s.Up, "the kernel brings a slave up")
		assert.Equal(t, b.Index, s.MasterIndex)
	}

	var st domain.BondState
	require.Eventually(t, func() bool {
		st, err = h.Bonds().Bond(ctx, ns, "bond0")
		return err == nil && st.ActiveSlave == "eth1"
	}, 5*time.Second, 50*time.Millisecond, "eth1 (primary) becomes active: %+v %v", st, err)
	assert.Equal(t, domain.ModeActiveBackup, st.Options.Mode)
	assert.Equal(t, u32(100), st.Options.Miimon)
	assert.Equal(t, u32(200), st.Options.UpDelay, "rounded down to a multiple of miimon")
	assert.Equal(t, &fom, st.Options.FailOverMac)
	assert.Equal(t, "eth1", st.Options.Primary)
	require.Len(t, st.Slaves, 2)

	_, err = h.Bonds().Bond(ctx, ns, "lo")
	require.ErrorIs(t, err, nlkernel.ErrNotBond)

	require.NoError(t, h.Bonds().Release(ctx, ns, e2.Index))
	s, err := h.Links().LinkByIndex(ctx, ns, e2.Index)
	require.NoError(t, err)
	assert.Zero(t, s.MasterIndex)
	assert.False(t, s.Up, "release leaves the slave down")

	require.NoError(t, h.Links().Delete(ctx, ns, b.Index))
	s, err = h.Links().LinkByIndex(ctx, ns, e1.Index)
	require.NoError(t, err)
	assert.Zero(t, s.MasterIndex, "deleting the bond releases its slaves")
}

func TestKernelBondRefusedOptionLeavesNothing(t *testing.T) {
	h := contract.NewRealHarness(t)
	requireBonding(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	spec := domain.BondSpec{Name: "bond0", Options: domain.BondOptions{Mode: domain.Mode8023AD, ArpInterval: u32(100)}}
	_, err := h.Bonds().CreateBond(ctx, ns, spec, "x")
	require.ErrorIs(t, err, domain.ErrKernelRefused)
	_, err = h.Links().Link(ctx, ns, "bond0")
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestKernelBondOptionsReadBack(t *testing.T) {
	h := contract.NewRealHarness(t)
	requireBonding(t)
	ctx := context.Background()
	u8 := func(v uint8) *uint8 { return &v }
	lacp := domain.LacpRate(1)
	xmit := domain.XmitHashPolicy(1)
	adSel := domain.AdSelect(2)
	prs := domain.PrimaryReselect(1)
	fom := domain.FailOverMacFollow
	av := domain.ArpValidate(3)
	cases := map[string]domain.BondOptions{
		"802.3ad": {
			Mode: domain.Mode8023AD, Miimon: u32(50), UpDelay: u32(100), DownDelay: u32(150),
			LacpRate: &lacp, XmitHashPolicy: &xmit, AdSelect: &adSel, MinLinks: u32(1),
			NumGratArp: u8(2), AllSlavesActive: u8(0),
		},
		"balance-rr": {Mode: domain.ModeBalanceRR, Miimon: u32(100), PacketsPerSlave: u32(3)},
		"active-backup with ARP monitor": {
			Mode: domain.ModeActiveBackup, ArpInterval: u32(200), ArpValidate: &av,
			ArpIPTargets: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")},
			FailOverMac:  &fom, PrimaryReselect: &prs,
		},
		"balance-tlb": {Mode: domain.ModeBalanceTLB, Miimon: u32(100), TLBDynamicLB: u8(0)},
		"balance-alb": {Mode: domain.ModeBalanceALB, Miimon: u32(100)},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			ns := h.NewNetns(t)
			e1 := h.NewLink(t, ns, "eth1", 0)
			e2 := h.NewLink(t, ns, "eth2", 0)
			mac := net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 1}
			b, err := h.Bonds().CreateBond(ctx, ns, domain.BondSpec{Name: "net1", Options: o, MAC: mac}, "a")
			require.NoError(t, err)
			assert.Equal(t, mac, b.MAC)
			require.NoError(t, h.Bonds().Enslave(ctx, ns, b.Index, e1.Index))
			require.NoError(t, h.Bonds().Enslave(ctx, ns, b.Index, e2.Index))
			require.NoError(t, h.Links().SetUp(ctx, ns, b.Index, true))
			st, err := h.Bonds().Bond(ctx, ns, "net1")
			require.NoError(t, err)
			// Every requested option reads back as sent.
			assert.Equal(t, o.Mode, st.Options.Mode)
			for r := range domain.BondOptionRows() {
				assert.Empty(t, r.Drift(&o, &st.Options), r.Kernel)
			}
			assert.Len(t, st.Slaves, 2)
			if o.Mode == domain.Mode8023AD {
				require.Eventually(t, func() bool {
					st, err = h.Bonds().Bond(ctx, ns, "net1")
					return err == nil && st.AdInfo != nil && st.AdInfo.AggregatorID != 0
				}, 5*time.Second, 50*time.Millisecond)
				assert.NotZero(t, st.Slaves[0].AggregatorID)
			}
			// Layer 3 on the bond.
			require.NoError(t, h.Addresses().Configure(ctx, ns, b.Index,
				[]domain.IPConfig{{Address: netip.MustParsePrefix("10.9.0.2/24")}},
				[]domain.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("10.9.0.1")}}))
			addrs, err := h.Addresses().Addresses(ctx, ns, b.Index)
			require.NoError(t, err)
			assert.Equal(t, []domain.IPConfig{{Address: netip.MustParsePrefix("10.9.0.2/24")}}, addrs)
		})
	}
}
