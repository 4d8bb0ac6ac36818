package domain

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVLANBondName(t *testing.T) {
	assert.Equal(t, "net1-bond", VLANBondName("net1"))
	assert.Equal(t, "abcdefghij-bond", VLANBondName("abcdefghij"), "10 bytes still fit with the suffix")
	long1, long2 := VLANBondName("abcdefghijk"), VLANBondName("abcdefghijkl")
	for _, n := range []string{long1, long2, VLANBondName("123456789012345")} {
		assert.Len(t, n, 15)
		assert.Empty(t, badIfName(n), "%q is a valid interface name", n)
	}
	assert.True(t, strings.HasPrefix(long1, "abcdef-"))
	assert.NotEqual(t, long1, long2, "long names sharing a prefix get different bonds")
	assert.Equal(t, long1, VLANBondName("abcdefghijk"), "deterministic")
}

func TestSpecVLAN(t *testing.T) {
	s, err := spec(t, conf(map[string]any{"vlan": "100", "vlanMtu": 1400, "mtu": 1500}), "tag0")
	require.NoError(t, err)
	assert.Equal(t, "tag0-bond", s.Name, "the bond is named after CNI_IFNAME")
	assert.Equal(t, "tag0", s.IfName())
	assert.Equal(t, &VLANSpec{Name: "tag0", ID: 100, Protocol: VLAN8021Q, MTU: 1400}, s.VLAN)

	s, err = spec(t, conf(map[string]any{"vlan": 4094, "vlanProtocol": "802.1AD"}), "tag0")
	require.NoError(t, err)
	assert.Equal(t, VLAN8021AD, s.VLAN.Protocol)

	s, err = spec(t, conf(nil), "tag0")
	require.NoError(t, err)
	assert.Nil(t, s.VLAN)
	assert.Equal(t, "tag0", s.IfName())
}

func TestVLANKeysRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		over  map[string]any
		wants []string
	}{
		{"id 0", map[string]any{"vlan": 0}, []string{"vlan: got number 0, want an integer 1..4094"}},
		{"id 4095", map[string]any{"vlan": 4095}, []string{"vlan: got number 4095, want an integer 1..4094"}},
		{"id negative", map[string]any{"vlan": -1}, []string{"vlan: got number -1"}},
		{"id list", map[string]any{"vlan": []int{1, 2}}, []string{"vlan: got array [1,2]"}},
		{"mtu too small", map[string]any{"vlan": 5, "vlanMtu": 60}, []string{"vlanMtu: got number 60, want 0 (the bond's MTU) or an integer 68..65535"}},
		{"unknown protocol", map[string]any{"vlan": 5, "vlanProtocol": "802.1x"}, []string{`vlanProtocol: got string "802.1x", want "802.1Q" or "802.1ad"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(conf(c.over))
			require.Error(t, err)
			assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
			for _, w := range c.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	for _, c := range []struct {
		name  string
		over  map[string]any
		wants []string
	}{
		{"mtu without vlan", map[string]any{"vlanMtu": 1400}, []string{"vlanMtu: 1400 set without vlan"}},
		{"protocol without vlan", map[string]any{"vlanProtocol": "802.1ad"}, []string{`vlanProtocol: "802.1ad" set without vlan`}},
		{"vlan mtu above the bond's", map[string]any{"vlan": 7, "mtu": 1500, "vlanMtu": 9000}, []string{"vlanMtu: 9000 is more than the bond's mtu 1500"}},
		{"link named as the bond", map[string]any{"vlan": 7, "links": []string{"tag0-bond", "eth2"}}, []string{`links[0]: "tag0-bond" is the name of the bond under the VLAN`}},
		{"link named as the VLAN", map[string]any{"vlan": 7, "links": []string{"tag0", "eth2"}}, []string{`links[0]: "tag0" is the VLAN device's own name (CNI_IFNAME)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := spec(t, conf(c.over), "tag0")
			require.Error(t, err)
			assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
			for _, w := range c.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func vlanInput(vlanMTU, bondMTU int) AddInput {
	in := mtuInput(bondMTU, true, Link{Index: 2, Name: "s1", MTU: 1500}, Link{Index: 3, Name: "s2", MTU: 1500})
	in.Spec.Name = "net1-bond"
	in.Spec.VLAN = &VLANSpec{Name: "net1", ID: 10, Protocol: VLAN8021Q, MTU: vlanMTU}
	return in
}

func TestPlanAddVLAN(t *testing.T) {
	p, err := PlanAdd(vlanInput(0, 0))
	require.NoError(t, err)
	var kinds []StepKind
	for _, s := range p.Steps {
		kinds = append(kinds, s.Kind)
	}
	assert.Equal(t, []StepKind{StepRecord, StepCreateBond, StepEnslave, StepEnslave, StepBondUp, StepCreateVLAN, StepVLANUp, StepMarkReady}, kinds)
	u, ok := Step{Kind: StepCreateVLAN}.Undo()
	assert.True(t, ok)
	assert.Equal(t, StepDeleteVLAN, u.Kind)

	in := vlanInput(0, 0)
	in.HasIPAM, in.IPAMNeedsLink = true, true // dhcp takes its lease on CNI_IFNAME
	p, err = PlanAdd(in)
	require.NoError(t, err)
	var iVLAN, iIPAM int
	for i, s := range p.Steps {
		switch s.Kind {
		case StepVLANUp:
			iVLAN = i
		case StepIPAMAdd:
			iIPAM = i
		}
	}
	assert.Less(t, iVLAN, iIPAM, "an IPAM that needs the link runs once the VLAN device is up")

	_, err = PlanAdd(vlanInput(1600, 0))
	require.Error(t, err)
	assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
	assert.Contains(t, err.Error(), "vlanMtu: 1600 is more than the bond's MTU 1500 (mtu is omitted")

	in = vlanInput(0, 0)
	in.BondNameTaken = true
	_, err = PlanAdd(in)
	require.Error(t, err)
	assert.Equal(t, CodeIfnameExists, CodeOf(err, 0))
	assert.Contains(t, err.Error(), `the bond under VLAN device "net1" is named "net1-bond", and a link of that name already exists`)

	in = vlanInput(0, 0)
	in.IfnameTaken = true
	_, err = PlanAdd(in)
	assert.Contains(t, err.Error(), `CNI_IFNAME "net1" already exists`)
}

func TestVLANDrift(t *testing.T) {
	want := VLANSpec{Name: "net1", ID: 10, Protocol: VLAN8021Q}
	got := VLANState{Link: Link{Name: "net1", MTU: 1500, Alias: "mark"}, ID: 10, Protocol: VLAN8021Q, LowerIndex: 7}
	assert.Empty(t, VLANDrift(want, 1500, 7, "mark", got))

	bad := got
	bad.ID, bad.Protocol, bad.LowerIndex, bad.Link.MTU = 11, VLAN8021AD, 3, 1400
	assert.Equal(t, []string{
		"vlan: want 10, kernel has 11",
		"vlanProtocol: want 802.1Q, kernel has 802.1ad",
		"vlanMtu: want 1500, kernel has 1400",
		"net1: want it on the bond (ifindex 7), kernel has it on ifindex 3",
	}, VLANDrift(want, 1500, 7, "mark", bad))

	want.MTU = 1400
	assert.Empty(t, VLANDrift(want, 1500, 7, "mark", VLANState{Link: Link{MTU: 1400, Alias: "mark"}, ID: 10, Protocol: VLAN8021Q, LowerIndex: 7}))
	assert.Equal(t, []string{"link net1 is not the VLAN device this attachment created", "vlan: want 10, kernel has 0"},
		VLANDrift(want, 1400, 7, "mark", VLANState{Link: Link{MTU: 1400}, Protocol: VLAN8021Q, LowerIndex: 7}))
}

func TestRecordWithVLANBondRoundTrips(t *testing.T) {
	a := Attachment{ID: AttachmentID{ContainerID: "c1", IfName: "net1"}, Bond: "net1-bond"}
	data, err := EncodeRecord(a)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"bond":"net1-bond"`)
	got, err := DecodeRecord(data)
	require.NoError(t, err)
	assert.Equal(t, "net1-bond", got.Bond)

	data, err = EncodeRecord(Attachment{ID: a.ID})
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"bond"`, "written only for a VLAN attachment")
}
