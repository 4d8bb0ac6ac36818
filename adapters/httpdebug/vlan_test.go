package httpdebug_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug"
)

const confVLAN = `{"cniVersion":"1.0.0","name":"tagged","type":"bond","mode":"active-backup","miimon":100,
"linksInContainer":true,"links":["vf0","vf1"],"vlan":300,"vlanProtocol":"802.1ad","ipam":{"type":"static"}}`

func TestInspectShowsTheVLANDevice(t *testing.T) {
	f := newFixture(t)
	pod := f.k.AddNetns("/var/run/netns/cni-vlan")
	f.k.AddVirtual(pod, "veth", "vf0", 1500, nil)
	f.k.AddVirtual(pod, "veth", "vf1", 1500, nil)
	id := f.add(confVLAN, pod, "vlanpod0", "net3", "telco/cu-0")

	var in httpdebug.InspectionJSON
	f.getJSON("/v1/attachments/vlanpod0/net3", &in)
	assert.Equal(t, "net3-bond", in.Attachment.Bond)
	require.NotNil(t, in.Bond, in.BondError)
	assert.Equal(t, "net3-bond", in.Bond.Name)
	assert.Empty(t, in.Bond.Addresses, "the addresses are the VLAN device's")
	require.NotNil(t, in.VLAN)
	assert.Equal(t, "net3", in.VLAN.Name)
	assert.Equal(t, 300, in.VLAN.ID)
	assert.Equal(t, "802.1ad", in.VLAN.Protocol)
	assert.Equal(t, in.Bond.Index, in.VLAN.LowerIndex)
	assert.True(t, in.VLAN.Up)
	assert.Len(t, in.VLAN.Addresses, 1)
	require.NotNil(t, in.Spec)
	require.NotNil(t, in.Spec.VLAN)
	assert.Equal(t, 300, in.Spec.VLAN.ID)
	assert.True(t, in.AsConfigured, "drift: %v", in.Drift)

	l, ok := f.k.Peek(pod, "net3")
	require.True(t, ok)
	require.NoError(t, f.k.Delete(t.Context(), pod, l.Index))
	var after httpdebug.InspectionJSON
	f.getJSON("/v1/attachments/vlanpod0/net3", &after)
	assert.Nil(t, after.VLAN)
	assert.False(t, after.AsConfigured)
	assert.Contains(t, after.Drift, "VLAN device net3 is missing from the pod")
	f.del(id, pod, confVLAN)
}
