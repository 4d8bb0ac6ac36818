package contract

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// VFHarness is a Harness that can also make SR-IOV VFs.
type VFHarness interface {
	Harness
	VFs() ports.VFs
	// NewVF puts a fresh VF into ns as name, up, as the SR-IOV CNI plugin
	// does: with adminMAC (nil = none) and trust set through its PF. It
	// returns the facts the VFs port must report for it.
	NewVF(t *testing.T, ns domain.Netns, name string, adminMAC net.HardwareAddr, trust bool) domain.VF
}

// VFHarnessMaker builds a fresh VF harness for one test.
type VFHarnessMaker func(t *testing.T) VFHarness

var contractAdminMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x01}

// RunVFsContract checks ports.VFs and how VFs behave under the other ports.
func RunVFsContract(t *testing.T, mk VFHarnessMaker) {
	t.Run("a link that is no VF is reported as such", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		h.NewLink(t, ns, "ct0", 0)
		_, ok, err := h.VFs().VF(t.Context(), ns, "ct0")
		require.NoError(t, err)
		assert.False(t, ok)
		_, _, err = h.VFs().VF(t.Context(), ns, "absent0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("a VF reports its PF, number, PCI address and the PF's view", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		want := h.NewVF(t, ns, "net1", contractAdminMAC, false)
		got, ok, err := h.VFs().VF(t.Context(), ns, "net1")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, got)
		assert.Equal(t, contractAdminMAC.String(), got.AdminMAC.String())
		l := linkNamed(t, h, ns, "net1")
		assert.Equal(t, contractAdminMAC.String(), l.MAC.String(), "the VF took its admin MAC")
		assert.True(t, got.MACLocked(l), "admin MAC, trust off: locked, and visible as such")
	})

	t.Run("a VF whose PF locked its MAC refuses another one and stays as it was", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		h.NewVF(t, ns, "net1", contractAdminMAC, false)
		l := linkNamed(t, h, ns, "net1")
		want := domain.StateOf(l)
		want.MAC, want.MACText = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x99}, ""
		err := h.Links().Restore(t.Context(), ns, l.Index, want)
		assert.ErrorIs(t, err, domain.ErrMACRefused)
		got := linkNamed(t, h, ns, "net1")
		assert.Equal(t, l.MAC.String(), got.MAC.String())
		assert.True(t, got.Up, "still up: the failed call undid its down message")
	})

	t.Run("a trusted VF takes another MAC", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		v := h.NewVF(t, ns, "net1", contractAdminMAC, true)
		l := linkNamed(t, h, ns, "net1")
		assert.False(t, v.MACLocked(l))
		want := domain.StateOf(l)
		other := net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x98}
		want.MAC, want.MACText = other, ""
		require.NoError(t, h.Links().Restore(t.Context(), ns, l.Index, want))
		assert.Equal(t, other.String(), linkNamed(t, h, ns, "net1").MAC.String())
	})
}
