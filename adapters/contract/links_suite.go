package contract

import (
	"crypto/rand"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// RunLinksContract checks ports.Links: lookups, not-found mapping, moves
// between namespaces, Restore, SetUp, Delete, and what a dying namespace
// does to its virtual links. Every subtest gets a fresh harness.
func RunLinksContract(t *testing.T, mk HarnessMaker) {
	t.Run("lookup by name and by index", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		made := h.NewLink(t, ns, "ct0", 1400)

		l, err := h.Links().Link(t.Context(), ns, "ct0")
		require.NoError(t, err)
		assert.Equal(t, made.Index, l.Index)
		assert.Equal(t, "ct0", l.Name)
		assert.Equal(t, 1400, l.MTU)
		assert.Len(t, l.MAC, 6)
		assert.False(t, l.Up, "a new link is down")
		assert.Zero(t, l.MasterIndex)
		assert.False(t, l.IsMaster)
		assert.False(t, l.Loopback)

		byIdx, err := h.Links().LinkByIndex(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.Equal(t, "ct0", byIdx.Name)
		assert.Equal(t, l.MAC, byIdx.MAC)
	})

	t.Run("lookup by MAC", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		h.NewLink(t, ns, "ct0", 0)
		want := h.NewLink(t, ns, "ct1", 0)

		l, err := h.Links().LinkByMAC(t.Context(), ns, want.MAC)
		require.NoError(t, err)
		assert.Equal(t, want.Index, l.Index)
		assert.Equal(t, "ct1", l.Name)

		_, err = h.Links().LinkByMAC(t.Context(), ns, unusedMAC(t))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("missing link is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		_, err := h.Links().Link(t.Context(), ns, "nosuch0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = h.Links().LinkByIndex(t.Context(), ns, 987654)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		err = h.Links().SetUp(t.Context(), ns, 987654, true)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		err = h.Links().Delete(t.Context(), ns, 987654)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = h.Links().Move(t.Context(), ns, 987654, h.NewNetns(t), "x0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("missing netns is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		missing := domain.Netns(t.TempDir() + "/no-such-netns")
		_, err := h.Links().Link(t.Context(), missing, "lo")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = h.Links().LinkByIndex(t.Context(), missing, 1)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("move keeps MTU and MAC, renames, and leaves the link down", func(t *testing.T) {
		h := mk(t)
		from, to := h.NewNetns(t), h.NewNetns(t)
		l := h.NewLink(t, from, "ct0", 1400)
		require.NoError(t, h.Links().SetUp(t.Context(), from, l.Index, true))

		moved, err := h.Links().Move(t.Context(), from, l.Index, to, "net7")
		require.NoError(t, err)
		assert.Equal(t, "net7", moved.Name)
		assert.Equal(t, 1400, moved.MTU)
		assert.Equal(t, l.MAC, moved.MAC)
		assert.False(t, moved.Up, "moving a link sets it down")

		got := linkNamed(t, h, to, "net7")
		assert.Equal(t, moved.Index, got.Index)
		assert.Equal(t, l.MAC, got.MAC)
		_, err = h.Links().Link(t.Context(), from, "ct0")
		assert.ErrorIs(t, err, domain.ErrNotFound, "the link left its old namespace")
	})

	t.Run("move keeps the name when asked to", func(t *testing.T) {
		h := mk(t)
		from, to := h.NewNetns(t), h.NewNetns(t)
		l := h.NewLink(t, from, "ct0", 0)
		moved, err := h.Links().Move(t.Context(), from, l.Index, to, "ct0")
		require.NoError(t, err)
		assert.Equal(t, "ct0", moved.Name)
		assert.Equal(t, l.MAC, linkNamed(t, h, to, "ct0").MAC)
	})

	t.Run("move onto a taken name is ErrExists and moves nothing", func(t *testing.T) {
		h := mk(t)
		from, to := h.NewNetns(t), h.NewNetns(t)
		l := h.NewLink(t, from, "ct0", 0)
		h.NewLink(t, to, "net7", 0)

		_, err := h.Links().Move(t.Context(), from, l.Index, to, "net7")
		require.ErrorIs(t, err, domain.ErrExists)
		still := linkNamed(t, h, from, "ct0")
		assert.Equal(t, l.Index, still.Index)
		assert.Equal(t, l.MAC, still.MAC)
	})

	t.Run("move there and back", func(t *testing.T) {
		h := mk(t)
		a, b := h.NewNetns(t), h.NewNetns(t)
		l := h.NewLink(t, a, "ct0", 1400)
		there, err := h.Links().Move(t.Context(), a, l.Index, b, "net1")
		require.NoError(t, err)
		back, err := h.Links().Move(t.Context(), b, there.Index, a, "ct0")
		require.NoError(t, err)
		got := linkNamed(t, h, a, "ct0")
		assert.Equal(t, back.Index, got.Index)
		assert.Equal(t, 1400, got.MTU)
		assert.Equal(t, l.MAC, got.MAC)
	})

	t.Run("restore puts back name, MTU, MAC and admin state", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 1400)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))
		orig := domain.StateOf(linkNamed(t, h, ns, "ct0"))
		require.True(t, orig.Up)

		other := unusedMAC(t)
		changed := domain.LinkState{Name: "tmp0", MTU: 1300, MAC: other, MACText: other.String(), Up: false}
		require.NoError(t, h.Links().Restore(t.Context(), ns, l.Index, changed))
		got := linkNamed(t, h, ns, "tmp0")
		assert.Equal(t, l.Index, got.Index)
		assert.Equal(t, 1300, got.MTU)
		assert.Equal(t, other, got.MAC)
		assert.False(t, got.Up)

		require.NoError(t, h.Links().Restore(t.Context(), ns, l.Index, orig))
		got = linkNamed(t, h, ns, "ct0")
		assert.Equal(t, 1400, got.MTU)
		assert.Equal(t, l.MAC, got.MAC)
		assert.True(t, got.Up)

		// Nothing differs: nothing to do.
		require.NoError(t, h.Links().Restore(t.Context(), ns, l.Index, orig))
		again := linkNamed(t, h, ns, "ct0")
		assert.Equal(t, []any{got.Index, got.MTU, got.MAC, got.Up}, []any{again.Index, again.MTU, again.MAC, again.Up})
	})

	t.Run("restore of a recorded state read back from JSON", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		orig := domain.StateOf(l)
		orig.MAC = nil // as after a reload: only MACText survives
		other := unusedMAC(t)
		require.NoError(t, h.Links().Restore(t.Context(), ns, l.Index, domain.LinkState{MAC: other}))
		require.Equal(t, other, linkNamed(t, h, ns, "ct0").MAC)
		require.NoError(t, h.Links().Restore(t.Context(), ns, l.Index, orig))
		assert.Equal(t, l.MAC, linkNamed(t, h, ns, "ct0").MAC)
	})

	t.Run("restore onto a taken name is ErrExists", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		h.NewLink(t, ns, "ct1", 0)
		err := h.Links().Restore(t.Context(), ns, l.Index, domain.LinkState{Name: "ct1"})
		assert.ErrorIs(t, err, domain.ErrExists)
		linkNamed(t, h, ns, "ct1")
	})

	t.Run("set up and down", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))
		assert.True(t, linkNamed(t, h, ns, "ct0").Up)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, false))
		assert.False(t, linkNamed(t, h, ns, "ct0").Up)
	})

	t.Run("delete removes a link", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		require.NoError(t, h.Links().Delete(t.Context(), ns, l.Index))
		_, err := h.Links().Link(t.Context(), ns, "ct0")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, h.Links().Delete(t.Context(), ns, l.Index), domain.ErrNotFound)
	})

	t.Run("destroying a netns kills its virtual links", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		name := "dying" + randomSuffix(t)
		h.NewLink(t, ns, name, 0)
		h.DestroyNetns(t, ns)

		assert.ErrorIs(t, h.Namespaces().Check(t.Context(), ns), domain.ErrNotFound)
		_, err := h.Links().Link(t.Context(), domain.HostNetns, name)
		assert.ErrorIs(t, err, domain.ErrNotFound, "a veth does not come back to the host")
	})
}

// linkNamed reads a link back through the port, failing the test if it
// is not there.
func linkNamed(t *testing.T, h Harness, ns domain.Netns, name string) domain.Link {
	t.Helper()
	l, err := h.Links().Link(t.Context(), ns, name)
	require.NoError(t, err, "reading %s back", name)
	return l
}

// unusedMAC returns a random locally administered unicast MAC.
func unusedMAC(t *testing.T) net.HardwareAddr {
	t.Helper()
	mac := make(net.HardwareAddr, 6)
	_, err := rand.Read(mac)
	require.NoError(t, err)
	mac[0] = mac[0]&^1 | 2
	return mac
}

// randomSuffix returns 6 random hex digits, for names that must not clash
// with the host's links.
func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 3)
	_, err := rand.Read(b)
	require.NoError(t, err)
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 6)
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}
