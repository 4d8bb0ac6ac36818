package nlkernel

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		errno unix.Errno
		want  error
	}{
		{unix.ENODEV, domain.ErrNotFound},
		{unix.ENOENT, domain.ErrNotFound},
		{unix.EEXIST, domain.ErrExists},
		{unix.EBUSY, domain.ErrBusy},
		{unix.EOPNOTSUPP, domain.ErrUnsupported},
		{unix.EPERM, domain.ErrKernelRefused},
		{unix.EINVAL, domain.ErrKernelRefused},
		{unix.EACCES, domain.ErrKernelRefused},
	}
	for _, c := range cases {
		t.Run(c.errno.Error(), func(t *testing.T) {
			err := wrap("enslaving eth1 to bond0", kernelErr(c.errno, "Device is in use and cannot be enslaved"))
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, err, c.errno)
			assert.Contains(t, err.Error(), "enslaving eth1 to bond0: ")
			assert.Contains(t, err.Error(), "Device is in use and cannot be enslaved")
		})
	}
	assert.NoError(t, wrap("x", nil))
	plain := wrap("decoding", errors.New("short message"))
	assert.NotErrorIs(t, plain, domain.ErrKernelRefused)
	assert.EqualError(t, plain, "decoding: short message")
}

func TestModeConversion(t *testing.T) {
	want := map[domain.Mode]driver.BondMode{
		domain.ModeBalanceRR:    driver.BondModeBalanceRR,
		domain.ModeActiveBackup: driver.BondModeActiveBackup,
		domain.ModeBalanceXOR:   driver.BondModeBalanceXOR,
		domain.ModeBroadcast:    driver.BondModeBroadcast,
		domain.Mode8023AD:       driver.BondMode802_3AD,
		domain.ModeBalanceTLB:   driver.BondModeBalanceTLB,
		domain.ModeBalanceALB:   driver.BondModeBalanceALB,
	}
	require.Len(t, want, len(domain.AllModes()))
	for _, m := range domain.AllModes() {
		d, err := bondModeTo(m)
		require.NoError(t, err)
		assert.Equal(t, want[m], d, m.String())
		assert.Equal(t, m, bondModeFrom(d))
	}
	_, err := bondModeTo(domain.Mode(7))
	assert.Error(t, err)
}

func ptr[T any](v T) *T { return &v }

// fullOptions sets every bonding option of the option table to its
// Sample, but primary (the kernel takes and reports an ifindex, which the
// adapter resolves: the tests set it themselves).
func fullOptions() domain.BondOptions {
	o := domain.BondOptions{Mode: domain.ModeActiveBackup}
	for r := range domain.BondOptionRows() {
		if r.Kernel != "primary" {
			if err := r.SetSample(&o); err != nil {
				panic(err)
			}
		}
	}
	return o
}

// encodeDecode puts b through the wire format and back.
func encodeDecode(t *testing.T, b *driver.Bond) *driver.Bond {
	t.Helper()
	m := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "bond0", Info: &rtnetlink.LinkInfo{Kind: "bond", Data: b}}}
	raw, err := m.MarshalBinary()
	require.NoError(t, err)
	var got rtnetlink.LinkMessage
	require.NoError(t, got.UnmarshalBinary(raw))
	out, ok := got.Attributes.Info.Data.(*driver.Bond)
	require.True(t, ok)
	return out
}

func TestBondOptionsRoundTrip(t *testing.T) {
	o := fullOptions()
	b, err := bondTo(o, ptr[uint32](7))
	require.NoError(t, err)
	assert.Equal(t, uint32(7), *b.Primary)
	got := bondFrom(encodeDecode(t, b))
	assert.Equal(t, o, got) // Primary is resolved from the ifindex elsewhere
}

func TestBondOptionsSendOnlyWhatIsSet(t *testing.T) {
	b, err := bondTo(domain.BondOptions{Mode: domain.Mode8023AD}, nil)
	require.NoError(t, err)
	assert.Equal(t, &driver.Bond{Mode: driver.BondMode802_3AD}, b)
	got := encodeDecode(t, b)
	assert.Equal(t, &driver.Bond{Mode: driver.BondMode802_3AD}, got)

	// balance-rr is mode 0 and must still be sent.
	got = encodeDecode(t, must(bondTo(domain.BondOptions{Mode: domain.ModeBalanceRR}, nil)))
	assert.Equal(t, driver.BondModeBalanceRR, got.Mode)
}

func TestBondOptionsRefuseIPv6ArpTarget(t *testing.T) {
	_, err := bondTo(domain.BondOptions{ArpIPTargets: []netip.Addr{netip.MustParseAddr("fd00::1")}}, nil)
	assert.ErrorContains(t, err, "fd00::1")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLinkFrom(t *testing.T) {
	carrier := uint8(1)
	master := uint32(9)
	alias := "bond-cni:abc"
	m := rtnetlink.LinkMessage{
		Index: 4,
		Flags: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{
			Name: "eth1", MTU: 9000,
			Address:     net.HardwareAddr{2, 0, 0, 0, 0, 1},
			PermAddress: net.HardwareAddr{2, 0, 0, 0, 0, 2},
			Carrier:     &carrier, Master: &master, Alias: &alias,
			Info: &rtnetlink.LinkInfo{Kind: "veth"},
		},
	}
	assert.Equal(t, domain.Link{
		Index: 4, Name: "eth1", Kind: "veth", MTU: 9000,
		MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, PermMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		Up: true, Carrier: true, MasterIndex: 9, Alias: alias,
	}, linkFrom(m))

	for _, kind := range []string{"bond", "bridge", "team", "openvswitch"} {
		m := rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Info: &rtnetlink.LinkInfo{Kind: kind}}}
		assert.True(t, linkFrom(m).IsMaster, kind)
	}
	lo := linkFrom(rtnetlink.LinkMessage{Flags: unix.IFF_LOOPBACK | unix.IFF_UP | unix.IFF_LOWER_UP, Attributes: &rtnetlink.LinkAttributes{Name: "lo"}})
	assert.True(t, lo.Loopback)
	assert.True(t, lo.Carrier)
	assert.False(t, lo.IsMaster)
	assert.True(t, linkFrom(rtnetlink.LinkMessage{Flags: unix.IFF_MASTER}).IsMaster)
}

func TestSlaveFrom(t *testing.T) {
	state := driver.BondStateActive
	mii := driver.BondLinkBack
	st := slaveFrom(domain.Link{Name: "eth1"}, &driver.BondSlave{
		State: &state, MiiStatus: &mii, LinkFailureCount: ptr[uint32](2),
		PermHardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, AggregatorId: ptr[uint16](3),
		AdActorOperPortState: ptr[uint8](0x3d), AdPartnerOperPortState: ptr[uint16](0x3f),
	}, &rtnetlink.LinkStats64{RXPackets: 1, TXPackets: 2, RXBytes: 3, TXBytes: 4, RXErrors: 5, TXErrors: 6, RXDropped: 7, TXDropped: 8, Multicast: 9})
	assert.Equal(t, domain.SlaveState{
		Link: domain.Link{Name: "eth1"}, Active: true, MIIStatus: "back", LinkFailureCount: 2,
		PermMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, AggregatorID: 3,
		LACP:     &domain.SlaveLACP{ActorState: 0x3d, PartnerState: 0x3f},
		Counters: &domain.LinkCounters{RxPackets: 1, TxPackets: 2, RxBytes: 3, TxBytes: 4, RxErrors: 5, TxErrors: 6, RxDropped: 7, TxDropped: 8},
	}, st)
	assert.Equal(t, []string{"activity", "aggregation", "synchronization", "collecting", "distributing"}, st.LACP.ActorState.Names())
	backup := driver.BondStateBackup
	st = slaveFrom(domain.Link{}, &driver.BondSlave{State: &backup}, nil)
	assert.False(t, st.Active)
	assert.Nil(t, st.LACP, "no port state outside 802.3ad")
	assert.Nil(t, st.Counters)
}

func TestAddressAndRouteMessages(t *testing.T) {
	m, err := addressMsg(3, netip.MustParsePrefix("10.1.2.3/24"))
	require.NoError(t, err)
	assert.Equal(t, uint8(unix.AF_INET), m.Family)
	assert.Equal(t, uint8(24), m.PrefixLength)
	assert.Equal(t, "10.1.2.3", m.Attributes.Local.String())
	assert.Equal(t, "10.1.2.255", m.Attributes.Broadcast.String())

	m, err = addressMsg(3, netip.MustParsePrefix("fd00::5/64"))
	require.NoError(t, err)
	assert.Equal(t, uint8(unix.AF_INET6), m.Family)
	assert.Nil(t, m.Attributes.Local)
	assert.Nil(t, m.Attributes.Broadcast)

	r, err := routeMsg(3, domain.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("10.1.2.1"), MTU: 1400, Priority: 10, Table: ptr(1000)})
	require.NoError(t, err)
	assert.Nil(t, r.Attributes.Dst)
	assert.Equal(t, "10.1.2.1", r.Attributes.Gateway.String())
	assert.Equal(t, uint8(unix.RT_SCOPE_UNIVERSE), r.Scope)
	assert.Equal(t, uint32(1000), r.Attributes.Table)
	assert.Equal(t, uint32(1400), r.Attributes.Metrics.MTU)
	assert.Equal(t, uint32(10), r.Attributes.Priority)
	assert.Equal(t, uint32(3), r.Attributes.OutIface)

	r, err = routeMsg(3, domain.Route{Dst: netip.MustParsePrefix("192.168.0.0/16")})
	require.NoError(t, err)
	assert.Equal(t, uint8(unix.RT_SCOPE_LINK), r.Scope)
	assert.Equal(t, uint8(unix.RT_TABLE_MAIN), r.Table)

	_, err = routeMsg(3, domain.Route{Dst: netip.MustParsePrefix("::/0"), GW: netip.MustParseAddr("10.0.0.1")})
	assert.Error(t, err)
}

// TestEveryBondOptionConverts: each bonding option of the option table has
// its driver.Bond field, and its largest value survives the wire format
// both ways; the two that are not numbers are converted by hand.
func TestEveryBondOptionConverts(t *testing.T) {
	for r := range domain.BondOptionRows() {
		t.Run(r.Key, func(t *testing.T) {
			if !r.Numeric() {
				assert.Contains(t, []string{"primary", "arp_ip_target"}, r.Kernel, "a non-numeric option needs its own conversion in bondTo and bondFrom")
				return
			}
			o := domain.BondOptions{Mode: domain.ModeActiveBackup}
			r.SetUint(&o, r.Max())
			b, err := bondTo(o, nil)
			require.NoError(t, err, "no driver.Bond field for %s: add its line to driverOption", r.Kernel)
			back := bondFrom(encodeDecode(t, b))
			got, ok := r.Uint(&back)
			assert.True(t, ok, "%s not read back", r.Kernel)
			assert.Equal(t, r.Max(), got)
		})
	}
}
