package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// A pod with NET_ADMIN renames the real NIC and plants a veth under its
// name. DEL must not move the veth to the host: it fails with code 109
// naming the link and what differs, leaves both devices in the pod and
// keeps the record, so the node admin can sort it out.
func TestDelRefusesAnImpostorUnderTheRecordedName(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	// The pod tears its bond down and swaps eth1000 for a veth.
	bond, err := w.k.Link(ctx, w.pod, "net1")
	require.NoError(t, err)
	require.NoError(t, w.k.Delete(ctx, w.pod, bond.Index))
	nic, err := w.k.Link(ctx, w.pod, "eth1000")
	require.NoError(t, err)
	st := domain.StateOf(nic)
	st.Name = "hidden"
	require.NoError(t, w.k.Restore(ctx, w.pod, nic.Index, st))
	w.k.AddVirtual(w.pod, "veth", "eth1000", 1500, nic.MAC)

	err = w.svc.Del(ctx, w.req(hostBondConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeLinkMismatch, domain.CodeOf(err, 0), err.Error())
	assert.Contains(t, err.Error(), `"eth1000" in the pod is not the device this attachment recorded`)
	assert.Contains(t, err.Error(), "kind veth, recorded physical")
	assert.Contains(t, err.Error(), "device none, recorded pci/0000:11:00.0")

	v, err := w.k.Link(ctx, w.pod, "eth1000")
	require.NoError(t, err)
	assert.Equal(t, "veth", v.Kind, "the veth stays in the pod")
	_, err = w.k.Link(ctx, w.pod, "hidden")
	require.NoError(t, err, "the real NIC stays where it is too")
	_, err = w.k.Link(ctx, domain.HostNetns, "eth1000")
	assert.ErrorIs(t, err, domain.ErrNotFound, "nothing moved to the host under the NIC's name")
	_, err = w.k.Link(ctx, domain.HostNetns, "eth1001")
	require.NoError(t, err, "the other, proven link went back")
	assert.Equal(t, 1, w.store.Len(), "the record is kept")
}

// A NIC the pod merely renamed is still the recorded device (same ifindex
// in the pod, same permanent MAC): DEL takes it back under its name.
func TestDelTakesBackARenamedNIC(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	nic, err := w.k.Link(ctx, w.pod, "eth1000")
	require.NoError(t, err)
	st := domain.StateOf(nic)
	st.Name = "renamed"
	require.NoError(t, w.k.Restore(ctx, w.pod, nic.Index, st))

	require.NoError(t, w.svc.Del(ctx, w.req(hostBondConf, "c1")))
	assert.Equal(t, initial, w.state())
}

// Back on the host the same proof holds: a recorded NIC that has not come
// back is not replaced by another link that merely carries its MAC (here a
// virtual one); DEL leaves that link alone and keeps the record.
func TestDelOnTheHostIgnoresALinkWithTheNICsMACOnly(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	rec, err := w.store.Load(ctx, domain.AttachmentID{ContainerID: "c1", IfName: "net1"})
	require.NoError(t, err)
	var orig domain.LinkState
	for _, l := range rec.Links {
		if l.Name == "eth1000" {
			orig = l
		}
	}
	// The pod netns dies; eth1000 is not back yet, and a virtual link with
	// its MAC is on the host.
	w.k.DestroyNetns(w.pod)
	back, ok := w.k.Peek(domain.HostNetns, "eth1000")
	require.True(t, ok)
	limbo := w.k.AddNetns("/run/netns/limbo")
	_, err = w.k.Move(ctx, domain.HostNetns, back.Index, limbo, "eth1000")
	require.NoError(t, err)
	twin := w.k.AddVirtual(domain.HostNetns, "dummy", "twin0", 9000, orig.HardwareAddr())

	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
		IPAM: w.ipam, Store: w.store, Locks: w.locks, Clock: memory.NewClock(time.Time{}, 0)})
	require.NoError(t, err)
	require.NoError(t, svc.Del(ctx, w.req(hostBondConf, "c1")), "a NIC still away does not block DEL")
	l, ok := w.k.Peek(domain.HostNetns, "twin0")
	require.True(t, ok, "the look-alike keeps its name")
	assert.Equal(t, twin.Index, l.Index)
	assert.Equal(t, 9000, l.MTU, "and its MTU: it was not restored as eth1000")
	assert.Equal(t, 1, w.store.Len(), "the record is kept until eth1000 itself is back")
}
