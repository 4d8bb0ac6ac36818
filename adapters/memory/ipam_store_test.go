package memory

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

func inv(cid, ifname string) ports.Invocation {
	return ports.Invocation{ContainerID: cid, IfName: ifname, Netns: "/run/netns/pod", Path: "/opt/cni/bin"}
}

func TestIPAM(t *testing.T) {
	ctx := t.Context()
	m := NewIPAM("10.0.0.0/30")
	conf := []byte(`{"name":"n","ipam":{"type":"host-local"}}`)

	res, err := m.Add(ctx, "host-local", conf, inv("c1", "bond0"))
	require.NoError(t, err)
	assert.Equal(t, []domain.IPConfig{{Address: netip.MustParsePrefix("10.0.0.2/30"), Gateway: netip.MustParseAddr("10.0.0.1")}}, res.IPs)
	assert.Equal(t, []domain.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: netip.MustParseAddr("10.0.0.1")}}, res.Routes)
	assert.Equal(t, conf, m.LastConf())
	assert.Equal(t, "host-local", m.LastPlugin())

	_, err = m.Add(ctx, "host-local", conf, inv("c1", "bond0"))
	assert.ErrorContains(t, err, "duplicate allocation is not allowed")
	_, err = m.Add(ctx, "host-local", conf, inv("c2", "bond0"))
	assert.ErrorContains(t, err, "no IP addresses available", "the /30 has one host address besides the gateway")

	assert.NoError(t, m.Check(ctx, "host-local", conf, inv("c1", "bond0")))
	assert.Error(t, m.Check(ctx, "host-local", conf, inv("c2", "bond0")))
	assert.NoError(t, m.Status(ctx, "host-local", conf, inv("", "")))

	require.NoError(t, m.Del(ctx, "host-local", conf, inv("c1", "bond0")))
	require.NoError(t, m.Del(ctx, "host-local", conf, inv("c1", "bond0")), "DEL is idempotent")
	assert.Empty(t, m.Allocations())

	m.FailOn("Add", 1, errBoom)
	_, err = m.Add(ctx, "host-local", conf, inv("c3", "bond0"))
	assert.ErrorIs(t, err, errBoom)
	assert.Empty(t, m.Allocations(), "a failed ADD allocates nothing")
	m.FailAfter(0, errBoom)
	assert.NotErrorIs(t, m.Check(ctx, "host-local", conf, inv("c3", "x")), errBoom, "Check is not mutating")
	assert.ErrorIs(t, m.Del(ctx, "host-local", conf, inv("c3", "bond0")), errBoom)
	assert.Equal(t, []string{"Add", "Del"}, m.Injected())
	assert.Len(t, m.Calls(), 11)
	assert.Equal(t, "ADD c1/bond0", m.Calls()[0])
}

func TestIPAMGC(t *testing.T) {
	ctx := t.Context()
	m := NewIPAM("")
	m.SetRoutes(nil)
	for _, c := range []string{"a", "b", "c"} {
		res, err := m.Add(ctx, "host-local", nil, inv(c, "net1"))
		require.NoError(t, err)
		assert.Nil(t, res.Routes)
	}
	gc := []byte(`{"cni.dev/valid-attachments":[{"containerID":"b","ifname":"net1"}]}`)
	require.NoError(t, m.GC(ctx, "host-local", gc, ports.Invocation{}))
	assert.Equal(t, map[domain.AttachmentID]netip.Prefix{
		{ContainerID: "b", IfName: "net1"}: netip.MustParsePrefix("10.0.0.3/24"),
	}, m.Allocations())
}

func TestIPAMv6(t *testing.T) {
	m := NewIPAM("2001:db8::/64")
	res, err := m.Add(t.Context(), "static", nil, inv("c", "bond0"))
	require.NoError(t, err)
	assert.Equal(t, netip.MustParsePrefix("2001:db8::2/64"), res.IPs[0].Address)
	assert.Equal(t, netip.MustParsePrefix("::/0"), res.Routes[0].Dst)
	assert.Panics(t, func() { NewIPAM("10.0.0.1") })
}

func TestStore(t *testing.T) {
	ctx := t.Context()
	s := NewStore()
	id := domain.AttachmentID{ContainerID: "c1", IfName: "bond0"}
	_, err := s.Load(ctx, id)
	assert.ErrorIs(t, err, domain.ErrNotFound)

	mac, _ := net.ParseMAC("52:54:00:00:00:01")
	rec := domain.Attachment{
		ID: id, Netns: "/run/netns/pod", Phase: domain.PhaseAdding, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Links:  []domain.LinkState{domain.StateOf(domain.Link{Name: "eth1", Index: 4, MTU: 1500, MAC: mac})},
		Config: []byte(`{"a":1}`),
	}
	require.NoError(t, s.Save(ctx, rec))
	rec.Links[0].Name = "changed" // the store keeps its own copy
	rec.Config[0] = 'X'

	got, err := s.Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "eth1", got.Links[0].Name)
	assert.Equal(t, []byte(`{"a":1}`), got.Config)
	assert.Nil(t, got.Links[0].MAC, "as on disk, only MACText survives")
	assert.Equal(t, mac, got.Links[0].HardwareAddr())
	assert.True(t, rec.CreatedAt.Equal(got.CreatedAt))

	require.NoError(t, s.Save(ctx, domain.Attachment{ID: domain.AttachmentID{ContainerID: "a0", IfName: "net1"}}))
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "a0", list[0].ID.ContainerID)

	s.FailOn("Save", 1, errBoom)
	assert.ErrorIs(t, s.Save(ctx, domain.Attachment{ID: id, Phase: domain.PhaseReady}), errBoom)
	got, _ = s.Load(ctx, id)
	assert.Equal(t, domain.PhaseAdding, got.Phase, "a failed save changes nothing")

	require.NoError(t, s.Delete(ctx, id))
	require.NoError(t, s.Delete(ctx, id), "deleting a missing record is fine")
	assert.Equal(t, 1, s.Len())
	s.FailAfter(0, errBoom)
	_, err = s.List(ctx)
	assert.NoError(t, err, "List is not mutating")
	assert.ErrorIs(t, s.Delete(ctx, id), errBoom)
	assert.Equal(t, []string{"Save", "Delete"}, s.Injected())
}
