package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// RunLinkPropsContract checks ports.LinkProps: a harness link (a veth)
// reports 10000 Mb/s full duplex in any namespace and whatever its admin
// state, and a missing link is ErrNotFound-ish.
func RunLinkPropsContract(t *testing.T, mk HarnessMaker) {
	t.Run("speed and duplex of a down link in a pod netns", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		h.NewLink(t, ns, "pp0", 0)
		mbps, duplex, err := h.Props().Speed(t.Context(), ns, "pp0")
		require.NoError(t, err)
		assert.Equal(t, 10000, mbps)
		assert.Equal(t, "full", duplex)
	})
	t.Run("speed of an up link", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "pp0", 0)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))
		mbps, _, err := h.Props().Speed(t.Context(), ns, "pp0")
		require.NoError(t, err)
		assert.Equal(t, 10000, mbps)
	})
	t.Run("a missing link is an error", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		_, _, err := h.Props().Speed(t.Context(), ns, "nosuch0")
		require.Error(t, err)
	})
	t.Run("a missing netns is an error", func(t *testing.T) {
		h := mk(t)
		_, _, err := h.Props().Speed(t.Context(), domain.Netns("/run/netns/does-not-exist"), "pp0")
		require.Error(t, err)
	})
}
