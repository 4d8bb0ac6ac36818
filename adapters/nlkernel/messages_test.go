package nlkernel

import (
	"context"
	"net"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// The fake adapters below run in the host netns (opening its handle needs
// no privilege); the fake kernel ignores which namespace it serves.

func TestEnslaveSendsDownThenMasterWithoutFlags(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		if r.typ == unix.RTM_GETLINK {
			return []rtnetlink.Message{linkMsg(4, "eth1", unix.IFF_UP, nil)}, nil
		}
		return nil, nil
	})
	require.NoError(t, a.Enslave(context.Background(), domain.HostNetns, 10, 4))
	require.Len(t, f.reqs, 3)
	assert.Equal(t, uint16(unix.RTM_GETLINK), f.reqs[0].typ, "checks the link has no master first")

	down := f.reqs[1].link(t)
	assert.Equal(t, uint16(unix.RTM_NEWLINK), f.reqs[1].typ)
	assert.Zero(t, f.reqs[1].flags&netlink.Create)
	assert.Equal(t, &rtnetlink.LinkMessage{Index: 4, Flags: 0, Change: unix.IFF_UP}, down)

	master := f.reqs[2].link(t)
	assert.Equal(t, uint32(4), master.Index)
	assert.Zero(t, master.Flags)
	assert.Zero(t, master.Change, "no flag change with IFLA_MASTER")
	assert.Equal(t, &rtnetlink.LinkAttributes{Master: ptr[uint32](10)}, master.Attributes)
	assert.Equal(t, uint64(3), a.RoundTrips())
}

// A slave that is down already (a host NIC just moved into the pod) gets
// no set-down message: one round trip less.
func TestEnslaveOfADownLinkSendsOnlyMaster(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		if r.typ == unix.RTM_GETLINK {
			return []rtnetlink.Message{linkMsg(4, "eth1", 0, nil)}, nil
		}
		return nil, nil
	})
	require.NoError(t, a.Enslave(context.Background(), domain.HostNetns, 10, 4))
	require.Len(t, f.reqs, 2)
	assert.Equal(t, uint16(unix.RTM_GETLINK), f.reqs[0].typ)
	assert.Equal(t, &rtnetlink.LinkAttributes{Master: ptr[uint32](10)}, f.reqs[1].link(t).Attributes)
	assert.Zero(t, f.reqs[1].link(t).Change)
	assert.Equal(t, uint64(2), a.RoundTrips())
}

func TestEnslaveErrorNamesLinksAndMapsErrno(t *testing.T) {
	a, _ := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		m := r.link(t)
		switch {
		case r.typ == unix.RTM_GETLINK && m.Index == 4:
			return []rtnetlink.Message{linkMsg(4, "eth1", 0, nil)}, nil
		case r.typ == unix.RTM_GETLINK && m.Index == 10:
			return []rtnetlink.Message{linkMsg(10, "bond0", 0, nil)}, nil
		case m.Attributes != nil && m.Attributes.Master != nil:
			return nil, kernelErr(unix.EBUSY, "Device is in use and cannot be enslaved")
		}
		return nil, nil
	})
	err := a.Enslave(context.Background(), domain.HostNetns, 10, 4)
	require.ErrorIs(t, err, domain.ErrBusy)
	assert.ErrorContains(t, err, "enslaving eth1 (ifindex 4) to bond0 (ifindex 10)")
	assert.ErrorContains(t, err, "Device is in use")
}

func TestReleaseSetsMasterZeroWithoutFlags(t *testing.T) {
	a, f := newFake(t, nil)
	require.NoError(t, a.Release(context.Background(), domain.HostNetns, 4))
	require.Len(t, f.reqs, 1)
	assert.Equal(t, &rtnetlink.LinkMessage{Index: 4, Attributes: &rtnetlink.LinkAttributes{Master: ptr[uint32](0)}}, f.reqs[0].link(t))
}

func TestCreateBondOneMessageWithEveryOption(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		switch {
		case isGet(r, "eth1"):
			return []rtnetlink.Message{linkMsg(4, "eth1", 0, nil)}, nil
		case isGet(r, "bond0"):
			return []rtnetlink.Message{linkMsg(12, "bond0", unix.IFF_MASTER, func(a *rtnetlink.LinkAttributes) {
				a.Info = &rtnetlink.LinkInfo{Kind: "bond"}
				a.Alias = ptr("bond-cni:c1")
			})}, nil
		}
		return nil, nil
	})
	o := fullOptions()
	o.Primary = "eth1"
	spec := domain.BondSpec{Name: "bond0", Options: o, MTU: 9000, MAC: net.HardwareAddr{2, 1, 2, 3, 4, 5}}
	l, err := a.CreateBond(context.Background(), domain.HostNetns, spec, "bond-cni:c1")
	require.NoError(t, err)
	assert.Equal(t, 12, l.Index)
	assert.Equal(t, "bond-cni:c1", l.Alias)

	require.Len(t, f.reqs, 4) // primary lookup, create, alias, read back
	create := f.reqs[1]
	assert.Equal(t, uint16(unix.RTM_NEWLINK), create.typ)
	assert.Equal(t, netlink.Create|netlink.Excl, create.flags&(netlink.Create|netlink.Excl))
	cm := create.link(t)
	assert.Equal(t, "bond0", cm.Attributes.Name)
	assert.Equal(t, uint32(9000), cm.Attributes.MTU)
	assert.Equal(t, spec.MAC, cm.Attributes.Address)
	assert.Zero(t, cm.Flags&unix.IFF_UP, "the bond is created down")
	data := cm.Attributes.Info.Data.(*driver.Bond)
	assert.Equal(t, uint32(4), *data.Primary, "primary is sent as the ifindex")
	o.Primary = ""
	assert.Equal(t, o, bondFrom(data))

	alias := f.reqs[2].link(t)
	assert.Zero(t, f.reqs[2].flags&netlink.Create)
	assert.Equal(t, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "bond0", Alias: ptr("bond-cni:c1")}}, alias)
}

func TestCreateBondRefusedLeavesNothing(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		if r.flags&netlink.Create != 0 {
			return nil, kernelErr(unix.EOPNOTSUPP, "Unknown device type")
		}
		return nil, nil
	})
	_, err := a.CreateBond(context.Background(), domain.HostNetns, domain.BondSpec{Name: "bond0"}, "x")
	require.ErrorIs(t, err, domain.ErrUnsupported)
	assert.ErrorContains(t, err, "creating bond bond0 (mode balance-rr)")
	assert.ErrorContains(t, err, "Unknown device type")
	assert.Len(t, f.reqs, 1)
}

func TestCreateBondDeletesItWhenAliasFails(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		m := r.link(t)
		if r.typ == unix.RTM_NEWLINK && m.Attributes.Alias != nil {
			return nil, kernelErr(unix.EINVAL, "")
		}
		return nil, nil
	})
	_, err := a.CreateBond(context.Background(), domain.HostNetns, domain.BondSpec{Name: "bond0"}, "x")
	require.ErrorIs(t, err, domain.ErrKernelRefused)
	require.Len(t, f.reqs, 3)
	assert.Equal(t, uint16(unix.RTM_DELLINK), f.reqs[2].typ)
	assert.Equal(t, "bond0", f.reqs[2].link(t).Attributes.Name)
}

func TestRestoreSendsOnlyDifferences(t *testing.T) {
	cur := func(up bool) func(r request) ([]rtnetlink.Message, error) {
		return func(r request) ([]rtnetlink.Message, error) {
			if r.typ == unix.RTM_GETLINK {
				flags := uint32(0)
				if up {
					flags = unix.IFF_UP
				}
				return []rtnetlink.Message{linkMsg(4, "net1", flags, nil)}, nil
			}
			return nil, nil
		}
	}
	ctx := context.Background()
	same := domain.LinkState{Name: "net1", MTU: 1500, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 4}, Up: false}

	t.Run("nothing differs", func(t *testing.T) {
		a, f := newFake(t, cur(false))
		require.NoError(t, a.Restore(ctx, domain.HostNetns, 4, same))
		assert.Len(t, f.reqs, 1)
	})
	t.Run("mtu only", func(t *testing.T) {
		a, f := newFake(t, cur(true))
		want := same
		want.MTU, want.Up = 9000, true
		require.NoError(t, a.Restore(ctx, domain.HostNetns, 4, want))
		require.Len(t, f.reqs, 2)
		assert.Equal(t, &rtnetlink.LinkMessage{Index: 4, Attributes: &rtnetlink.LinkAttributes{MTU: 9000}}, f.reqs[1].link(t))
	})
	t.Run("rename an up link, MAC from text", func(t *testing.T) {
		a, f := newFake(t, cur(true))
		want := domain.LinkState{Name: "eth1", MACText: "02:00:00:00:00:09", Up: true}
		require.NoError(t, a.Restore(ctx, domain.HostNetns, 4, want))
		require.Len(t, f.reqs, 4)
		assert.Equal(t, flagsMsg(4, false), f.reqs[1].link(t))
		assert.Equal(t, &rtnetlink.LinkMessage{Index: 4, Attributes: &rtnetlink.LinkAttributes{
			Name: "eth1", Address: net.HardwareAddr{2, 0, 0, 0, 0, 9},
		}}, f.reqs[2].link(t))
		assert.Equal(t, flagsMsg(4, true), f.reqs[3].link(t))
	})
	t.Run("down only", func(t *testing.T) {
		a, f := newFake(t, cur(true))
		require.NoError(t, a.Restore(ctx, domain.HostNetns, 4, same))
		require.Len(t, f.reqs, 2)
		assert.Equal(t, flagsMsg(4, false), f.reqs[1].link(t))
	})
}

func TestMoveRenamesInTheSameMessage(t *testing.T) {
	moved := false
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		if isGet(r, "net1") {
			if !moved {
				return nil, kernelErr(unix.ENODEV, "")
			}
			return []rtnetlink.Message{linkMsg(7, "net1", 0, nil)}, nil
		}
		if r.typ == unix.RTM_NEWLINK {
			moved = true
		}
		return nil, nil
	})
	l, err := a.Move(context.Background(), domain.HostNetns, 4, domain.HostNetns, "net1")
	require.NoError(t, err)
	assert.Equal(t, 7, l.Index)
	require.Len(t, f.reqs, 3)
	m := f.reqs[1].link(t)
	assert.Equal(t, uint32(4), m.Index)
	assert.Equal(t, "net1", m.Attributes.Name)
	require.NotNil(t, m.Attributes.NetNS)
	assert.Zero(t, m.Change)
}

func TestMoveRefusesTakenName(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		return []rtnetlink.Message{linkMsg(7, "net1", 0, nil)}, nil
	})
	_, err := a.Move(context.Background(), domain.HostNetns, 4, domain.HostNetns, "net1")
	require.ErrorIs(t, err, domain.ErrExists)
	assert.Len(t, f.reqs, 1, "nothing moved")
}

func TestLinkByNameIsNotADump(t *testing.T) {
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		return nil, kernelErr(unix.ENODEV, "")
	})
	_, err := a.Link(context.Background(), domain.HostNetns, "eth9")
	require.ErrorIs(t, err, domain.ErrNotFound)
	assert.ErrorContains(t, err, "eth9")
	require.Len(t, f.reqs, 1)
	assert.Zero(t, f.reqs[0].flags&netlink.Dump)
	assert.Zero(t, f.reqs[0].link(t).Index)
}

func TestBondReadsOptionsAndSlaves(t *testing.T) {
	o := fullOptions()
	data, err := bondTo(o, ptr[uint32](4))
	require.NoError(t, err)
	data.ActiveSlave = ptr[uint32](5)
	data.AdInfo = &driver.BondAdInfo{AggregatorId: 1, NumPorts: 2, PartnerMac: net.HardwareAddr{1, 2, 3, 4, 5, 6}}
	active, backup := driver.BondStateActive, driver.BondStateBackup
	up := driver.BondLinkUp
	slave := func(idx uint32, name string, st *driver.BondSlaveState) *rtnetlink.LinkMessage {
		return linkMsg(idx, name, unix.IFF_UP|unix.IFF_SLAVE, func(a *rtnetlink.LinkAttributes) {
			a.Master = ptr[uint32](12)
			a.Info = &rtnetlink.LinkInfo{SlaveKind: "bond", SlaveData: &driver.BondSlave{State: st, MiiStatus: &up}}
		})
	}
	a, f := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		if r.flags&netlink.Dump != 0 {
			return []rtnetlink.Message{slave(4, "eth1", &backup), slave(5, "eth2", &active), linkMsg(6, "eth3", 0, nil)}, nil
		}
		return []rtnetlink.Message{linkMsg(12, "bond0", unix.IFF_MASTER, func(a *rtnetlink.LinkAttributes) {
			a.Info = &rtnetlink.LinkInfo{Kind: "bond", Data: data}
		})}, nil
	})
	st, err := a.Bond(context.Background(), domain.HostNetns, "bond0")
	require.NoError(t, err)
	require.Len(t, f.reqs, 2)
	assert.Equal(t, ptr[uint32](12), f.reqs[1].link(t).Attributes.Master, "the dump is filtered by master")
	o.Primary = "eth1"
	assert.Equal(t, o, st.Options)
	assert.Equal(t, "eth2", st.ActiveSlave)
	require.Len(t, st.Slaves, 2, "links of other masters are dropped")
	assert.False(t, st.Slaves[0].Active)
	assert.True(t, st.Slaves[1].Active)
	assert.Equal(t, "up", st.Slaves[1].MIIStatus)
	assert.Equal(t, uint16(2), st.AdInfo.NumPorts)
}

func TestBondOfNonBond(t *testing.T) {
	a, _ := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		return []rtnetlink.Message{linkMsg(3, "eth0", 0, func(a *rtnetlink.LinkAttributes) {
			a.Info = &rtnetlink.LinkInfo{Kind: "veth"}
		})}, nil
	})
	st, err := a.Bond(context.Background(), domain.HostNetns, "eth0")
	require.ErrorIs(t, err, ErrNotBond)
	assert.NotErrorIs(t, err, domain.ErrNotFound)
	assert.Equal(t, "veth", st.Link.Kind)
}
