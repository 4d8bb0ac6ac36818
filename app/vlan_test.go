package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// hostVLANConf is hostBondConf with VLAN 100 on the bond.
var hostVLANConf = strings.Replace(hostBondConf, `"miimon":"100",`, `"miimon":"100","vlan":100,"vlanMtu":1400,`, 1)

func TestAddVLANThenCheckThenDel(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()

	res, err := w.svc.Add(ctx, w.req(hostVLANConf, "c1"))
	require.NoError(t, err)
	require.Len(t, res.Interfaces, 1, "only CNI_IFNAME: Multus would report any other sandbox interface as a network")
	vl, err := w.k.VLAN(ctx, w.pod, "net1")
	require.NoError(t, err)
	bond, err := w.k.Bond(ctx, w.pod, "net1-bond")
	require.NoError(t, err)
	assert.Len(t, bond.Slaves, 2)
	assert.Equal(t, domain.Interface{Name: "net1", MAC: vl.Link.MAC.String(), MTU: 1400, Sandbox: string(w.pod)}, res.Interfaces[0])
	assert.Equal(t, 100, vl.ID)
	assert.Equal(t, domain.VLAN8021Q, vl.Protocol)
	assert.Equal(t, bond.Link.Index, vl.LowerIndex)
	assert.True(t, vl.Link.Up)
	addrs, err := w.k.Addresses(ctx, w.pod, vl.Link.Index)
	require.NoError(t, err)
	require.Len(t, addrs, 1, "IPAM's address is on the VLAN device")
	assert.Equal(t, res.IPs[0].Address, addrs[0].Address)
	bondAddrs, err := w.k.Addresses(ctx, w.pod, bond.Link.Index)
	require.NoError(t, err)
	assert.Empty(t, bondAddrs, "and not on the bond")
	rec, err := w.store.Load(ctx, domain.AttachmentID{ContainerID: "c1", IfName: "net1"})
	require.NoError(t, err)
	assert.Equal(t, "net1-bond", rec.Bond)

	require.NoError(t, w.svc.Check(ctx, w.req(hostVLANConf, "c1")))
	in, err := w.svc.Inspect(ctx, domain.AttachmentID{ContainerID: "c1", IfName: "net1"})
	require.NoError(t, err)
	require.NotNil(t, in.VLAN)
	assert.Equal(t, 100, in.VLAN.ID)
	assert.Empty(t, in.Drift)
	require.Len(t, in.Addresses, 1)

	require.NoError(t, w.svc.Del(ctx, w.req(hostVLANConf, "c1")))
	assert.Equal(t, initial, w.state())
	require.NoError(t, w.svc.Del(ctx, w.req(hostVLANConf, "c1")), "DEL twice")
	assert.Equal(t, initial, w.state())
}

func TestCheckVLANDrift(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		drift func(w *world)
		want  string
	}{
		{"removed", func(w *world) {
			l, _ := w.k.Peek(w.pod, "net1")
			require.NoError(w.t, w.k.Delete(ctx, w.pod, l.Index))
		}, "VLAN device net1 is missing from the pod"},
		{"id changed", func(w *world) {
			l, _ := w.k.Peek(w.pod, "net1")
			require.NoError(w.t, w.k.Delete(ctx, w.pod, l.Index))
			w.k.AddVLAN(w.pod, "net1-bond", domain.VLANSpec{Name: "net1", ID: 200, Protocol: domain.VLAN8021Q})
		}, "vlan: want 100, kernel has 200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			_, err := w.svc.Add(ctx, w.req(hostVLANConf, "c1"))
			require.NoError(t, err)
			c.drift(w)
			err = w.svc.Check(ctx, w.req(hostVLANConf, "c1"))
			require.Error(t, err)
			assert.Equal(t, domain.CodeCheckFailed, domain.CodeOf(err, 0))
			assert.Contains(t, err.Error(), c.want)
			// DEL still cleans up, and leaves a VLAN that is not its own.
			require.NoError(t, w.svc.Del(ctx, w.req(hostVLANConf, "c1")))
			_, onHost := w.k.Peek(domain.HostNetns, "eth1000")
			assert.True(t, onHost)
		})
	}
}

func TestAddVLANRefusesATakenBondName(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.k.AddVirtual(w.pod, "veth", "net1-bond", 0, nil)
	initial := w.state()
	_, err := w.svc.Add(ctx, w.req(hostVLANConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeIfnameExists, domain.CodeOf(err, 0))
	assert.Contains(t, err.Error(), `the bond under VLAN device "net1" is named "net1-bond"`)
	assert.Equal(t, initial, w.state(), "refused before any change")
}

// Every mutating kernel call of a VLAN ADD fails in turn, then the VLAN
// device itself: the node is as found after each.
func TestFailEveryVLANAddStepLeavesTheNodeAsFound(t *testing.T) {
	ctx := context.Background()
	n := 0
	for k := 0; ; k++ {
		w := newWorld(t)
		initial := w.state()
		w.k.FailAfter(k, errors.New("injected kernel fault"))
		_, err := w.svc.Add(ctx, w.req(hostVLANConf, "c1"))
		if err == nil {
			break
		}
		n++
		w.k.ClearFaults()
		assert.Equal(t, initial, w.state(), "kernel fault at mutating op %d: %v", k, err)
	}
	assert.Greater(t, n, 8)
	w := newWorld(t)
	initial := w.state()
	w.k.FailOn("CreateVLAN", 1, errors.New("injected VLAN fault"))
	_, err := w.svc.Add(ctx, w.req(hostVLANConf, "c1"))
	require.ErrorContains(t, err, `creating VLAN device "net1" (vlan 100, 802.1Q) on bond "net1-bond"`)
	assert.Equal(t, initial, w.state())
}

func TestDelWithoutRecordDeletesOnlyItsOwnVLAN(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Add(ctx, w.req(hostVLANConf, "c1"))
	require.NoError(t, err)
	// Someone else's VLAN named like ours: a DEL of another container
	// leaves it alone.
	require.NoError(t, w.svc.Del(ctx, w.req(hostVLANConf, "c2")))
	_, ok := w.k.Peek(w.pod, "net1")
	assert.True(t, ok)
	_, ok = w.k.Peek(w.pod, "net1-bond")
	assert.True(t, ok)
	require.NoError(t, w.svc.Del(ctx, w.req(hostVLANConf, "c1")))
	_, ok = w.k.Peek(w.pod, "net1")
	assert.False(t, ok)
}

// The plugin dies before each step of a VLAN ADD, the VLAN steps among
// them; the DEL that follows leaves the node as before.
func TestCrashBeforeEveryVLANAddStepThenDel(t *testing.T) {
	probe := newWorld(t)
	var steps []string
	var mu sync.Mutex // IPAM ADD's step is seen on its own goroutine
	_, err := probe.service(func(s domain.Step) {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, s.String())
	}).Add(context.Background(), probe.req(hostVLANConf, "c1"))
	require.NoError(t, err)
	assert.Contains(t, steps, "create-vlan")
	assert.Contains(t, steps, "vlan-up")
	for _, at := range steps {
		t.Run(strings.ReplaceAll(at, " ", "_"), func(t *testing.T) { crashBeforeStepThenDel(t, hostVLANConf, at) })
	}
}
