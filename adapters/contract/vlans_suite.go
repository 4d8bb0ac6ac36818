package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// RunVLANsContract checks ports.VLANs (with the ports.Links calls a VLAN
// device's life involves): create on a bond with either protocol and read
// back id, protocol, lower device, MTU, MAC and mark; the 8021q driver's
// refusals (MTU above the lower's, taken name, the same id twice on one
// lower, missing lower); reading a link that is not a VLAN; and that a VLAN
// device dies with its bond and shrinks with its MTU.
func RunVLANsContract(t *testing.T, mk HarnessMaker) {
	// bondWithSlave is a bond at MTU 1500 with one slave, down.
	bondWithSlave := func(t *testing.T, h Harness, ns domain.Netns) domain.Link {
		b := createBond(t, h, ns, domain.BondSpec{Name: "bond0", Options: plainOptions(domain.ModeActiveBackup), MTU: 1500})
		enslave(t, h, ns, b, h.NewLink(t, ns, "vs0", 1500))
		return linkNamed(t, h, ns, "bond0")
	}
	for _, p := range []domain.VLANProtocol{domain.VLAN8021Q, domain.VLAN8021AD} {
		t.Run("create on a bond reads back, protocol "+p.String(), func(t *testing.T) {
			h := mk(t)
			ns := h.NewNetns(t)
			b := bondWithSlave(t, h, ns)
			spec := domain.VLANSpec{Name: "net1", ID: 42, Protocol: p}
			l, err := h.VLANs().CreateVLAN(t.Context(), ns, b.Index, spec, testAlias)
			require.NoError(t, err)
			assert.Equal(t, "net1", l.Name)
			assert.Equal(t, "vlan", l.Kind)
			assert.False(t, l.Up, "a new VLAN device is down")
			assert.False(t, l.IsMaster)
			assert.Equal(t, testAlias, l.Alias)
			assert.Equal(t, 1500, l.MTU, "MTU 0 takes the lower device's")
			assert.Equal(t, b.MAC, l.MAC, "a VLAN device takes its lower device's MAC")

			st, err := h.VLANs().VLAN(t.Context(), ns, "net1")
			require.NoError(t, err)
			assert.Equal(t, l.Index, st.Link.Index)
			assert.Equal(t, 42, st.ID)
			assert.Equal(t, p, st.Protocol)
			assert.Equal(t, b.Index, st.LowerIndex)
			assert.Equal(t, testAlias, st.Link.Alias)
		})
	}

	t.Run("MTU up to the lower device's, not above", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := bondWithSlave(t, h, ns)
		l, err := h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net1", ID: 1, Protocol: domain.VLAN8021Q, MTU: 1400}, testAlias)
		require.NoError(t, err)
		assert.Equal(t, 1400, l.MTU)
		_, err = h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net2", ID: 2, Protocol: domain.VLAN8021Q, MTU: 1501}, testAlias)
		assert.ErrorIs(t, err, domain.ErrKernelRefused)
		_, err = h.Links().Link(t.Context(), ns, "net2")
		assert.ErrorIs(t, err, domain.ErrNotFound, "a refused VLAN leaves nothing behind")
	})

	t.Run("a taken name or the same id twice on one lower is ErrExists", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := bondWithSlave(t, h, ns)
		first, err := h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net1", ID: 7, Protocol: domain.VLAN8021Q}, testAlias)
		require.NoError(t, err)
		_, err = h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net1", ID: 8, Protocol: domain.VLAN8021Q}, "bond-cni:other")
		assert.ErrorIs(t, err, domain.ErrExists)
		_, err = h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net2", ID: 7, Protocol: domain.VLAN8021Q}, testAlias)
		assert.ErrorIs(t, err, domain.ErrExists)
		_, err = h.Links().Link(t.Context(), ns, "net2")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		got := linkNamed(t, h, ns, "net1")
		assert.Equal(t, first.Index, got.Index)
		assert.Equal(t, testAlias, got.Alias, "the existing device is untouched")
		// The same id with the other protocol is another device.
		_, err = h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net3", ID: 7, Protocol: domain.VLAN8021AD}, testAlias)
		assert.NoError(t, err)
	})

	t.Run("missing lower device is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		_, err := h.VLANs().CreateVLAN(t.Context(), ns, 987654, domain.VLANSpec{Name: "net1", ID: 7, Protocol: domain.VLAN8021Q}, testAlias)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("reading a missing link or another kind", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		bondWithSlave(t, h, ns)
		_, err := h.VLANs().VLAN(t.Context(), ns, "nosuch0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		st, err := h.VLANs().VLAN(t.Context(), ns, "bond0")
		assert.ErrorIs(t, err, domain.ErrNotVLAN)
		assert.Equal(t, "bond", st.Link.Kind)
	})

	t.Run("carrier follows the bond's; deleted, then gone", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := bondWithSlave(t, h, ns)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, b.Index, true))
		l, err := h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net1", ID: 9, Protocol: domain.VLAN8021Q}, testAlias)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return linkNamed(t, h, ns, "bond0").Carrier }, 5*time.Second, 20*time.Millisecond, "the bond gets carrier")
		// The kernel passes the bond's carrier on to its VLANs from the link
		// watch, a little later.
		require.Eventually(t, func() bool { return linkNamed(t, h, ns, "net1").Carrier }, 5*time.Second, 20*time.Millisecond,
			"a VLAN device has its lower device's carrier, even while down")
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))
		require.Eventually(t, func() bool { return linkNamed(t, h, ns, "net1").Carrier }, 5*time.Second, 20*time.Millisecond, "the VLAN device follows the bond's carrier")
		require.NoError(t, h.Links().Delete(t.Context(), ns, l.Index))
		assert.ErrorIs(t, h.Links().Delete(t.Context(), ns, l.Index), domain.ErrNotFound)
		assert.Equal(t, b.Index, linkNamed(t, h, ns, "bond0").Index, "deleting the VLAN leaves the bond")
	})

	t.Run("dies with its bond", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := bondWithSlave(t, h, ns)
		_, err := h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net1", ID: 9, Protocol: domain.VLAN8021Q}, testAlias)
		require.NoError(t, err)
		require.NoError(t, h.Links().Delete(t.Context(), ns, b.Index))
		_, err = h.Links().Link(t.Context(), ns, "net1")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("shrinks with its lower device's MTU", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		b := bondWithSlave(t, h, ns)
		_, err := h.VLANs().CreateVLAN(t.Context(), ns, b.Index, domain.VLANSpec{Name: "net1", ID: 9, Protocol: domain.VLAN8021Q}, testAlias)
		require.NoError(t, err)
		require.NoError(t, h.Links().Restore(t.Context(), ns, b.Index, domain.LinkState{MTU: 1300}))
		assert.Equal(t, 1300, linkNamed(t, h, ns, "net1").MTU)
	})
}
