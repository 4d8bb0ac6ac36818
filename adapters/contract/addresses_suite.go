package contract

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// RunAddressesContract checks ports.Addresses: addresses added and read
// back, routes (direct and via a gateway), the up-link and duplicate rules,
// and that a link leaving its namespace loses its addresses.
func RunAddressesContract(t *testing.T, mk HarnessMaker) {
	v4 := netip.MustParsePrefix("10.1.2.3/24")
	v6 := netip.MustParsePrefix("2001:db8:1::3/64")
	gw := netip.MustParseAddr("10.1.2.1")

	upLink := func(t *testing.T, h Harness) (domain.Netns, domain.Link) {
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, l.Index, true))
		return ns, l
	}

	t.Run("a default route through a link is seen on that link only", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		other := h.NewLink(t, ns, "ct1", 0)
		require.NoError(t, h.Links().SetUp(t.Context(), ns, other.Index, true))
		has, err := h.Addresses().CarriesDefaultRoute(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.False(t, has, "no route yet")
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, []domain.IPConfig{{Address: v4}},
			[]domain.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: gw}}))
		has, err = h.Addresses().CarriesDefaultRoute(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.True(t, has)
		has, err = h.Addresses().CarriesDefaultRoute(t.Context(), ns, other.Index)
		require.NoError(t, err)
		assert.False(t, has)
	})

	t.Run("a default IPv6 route through a link is seen too", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		gw6 := netip.MustParseAddr("2001:db8:1::1")
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, []domain.IPConfig{{Address: v6}},
			[]domain.Route{{Dst: netip.MustParsePrefix("::/0"), GW: gw6}}))
		has, err := h.Addresses().CarriesDefaultRoute(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.True(t, has)
	})

	t.Run("configure adds addresses", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, []domain.IPConfig{{Address: v4, Gateway: gw}, {Address: v6}}, nil))
		got, err := h.Addresses().Addresses(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.ElementsMatch(t, []netip.Prefix{v4, v6}, prefixes(got))
	})

	t.Run("an address already there is fine", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		ips := []domain.IPConfig{{Address: v4}}
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, ips, nil))
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, ips, nil))
		got, err := h.Addresses().Addresses(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.Equal(t, []netip.Prefix{v4}, prefixes(got))
	})

	t.Run("a new link has no global addresses", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		got, err := h.Addresses().Addresses(t.Context(), ns, l.Index)
		require.NoError(t, err)
		assert.Empty(t, got, "link-local addresses are left out")
	})

	t.Run("configure adds routes, direct and via a gateway", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		routes := []domain.Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: gw},
			{Dst: netip.MustParsePrefix("198.51.100.0/24")},
			{Dst: netip.MustParsePrefix("203.0.113.0/24"), GW: gw, Priority: 100},
		}
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, []domain.IPConfig{{Address: v4, Gateway: gw}}, routes))
	})

	t.Run("the same route twice is ErrExists", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		ips := []domain.IPConfig{{Address: v4}}
		route := []domain.Route{{Dst: netip.MustParsePrefix("192.0.2.0/24"), GW: gw}}
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, ips, route))
		err := h.Addresses().Configure(t.Context(), ns, l.Index, ips, route)
		assert.ErrorIs(t, err, domain.ErrExists)
	})

	t.Run("a route via a gateway needs the link up", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		l := h.NewLink(t, ns, "ct0", 0)
		err := h.Addresses().Configure(t.Context(), ns, l.Index, []domain.IPConfig{{Address: v4}},
			[]domain.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: gw}})
		assert.ErrorIs(t, err, domain.ErrKernelRefused)
	})

	t.Run("configure on a missing link is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		err := h.Addresses().Configure(t.Context(), ns, 987654, []domain.IPConfig{{Address: v4}}, nil)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("a link moved to another netns loses its addresses", func(t *testing.T) {
		h := mk(t)
		ns, l := upLink(t, h)
		other := h.NewNetns(t)
		require.NoError(t, h.Addresses().Configure(t.Context(), ns, l.Index, []domain.IPConfig{{Address: v4}}, nil))
		moved, err := h.Links().Move(t.Context(), ns, l.Index, other, "ct0")
		require.NoError(t, err)
		got, err := h.Addresses().Addresses(t.Context(), other, moved.Index)
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}

func prefixes(ips []domain.IPConfig) []netip.Prefix {
	var out []netip.Prefix
	for _, ip := range ips {
		out = append(out, ip.Address)
	}
	return out
}
