package ethtool_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/ethtool"
	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/domain"
)

// Each call opening its socket in the namespace, and with the socket the
// rtnetlink adapter keeps there lent (as the CNI binary wires it), the
// answers are the same.
func TestKernelSpeedOfDownVethInNetns(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	l := h.NewLink(t, ns, "eth1", 0)
	require.False(t, l.Up)
	nl := nlkernel.New()
	t.Cleanup(func() { nl.Close() })

	for name, p := range map[string]ethtool.Props{"own socket": {}, "lent socket": {Conns: nl}} {
		t.Run(name, func(t *testing.T) {
			mbps, duplex, err := p.Speed(ctx, ns, "eth1")
			require.NoError(t, err)
			assert.Equal(t, 10000, mbps)
			assert.Equal(t, "full", duplex)

			_, _, err = p.Speed(ctx, ns, "lo")
			require.ErrorIs(t, err, domain.ErrUnsupported)
			assert.ErrorContains(t, err, "no usable speed/duplex")

			_, _, err = p.Speed(ctx, ns, "nope")
			require.ErrorIs(t, err, domain.ErrNotFound)
			_, _, err = p.Speed(ctx, "/nonexistent/netns", "eth1")
			require.ErrorIs(t, err, domain.ErrNotFound)
		})
	}
}

// In the project VM the host has two virtio NICs, eth1000 and eth1001,
// started without a speed: their driver reports SPEED_UNKNOWN, as a
// physical NIC without carrier does, and the plugin must see that as "no
// usable speed", not as 4294967295 Mb/s.
func TestKernelHostNICWithoutSpeed(t *testing.T) {
	if _, err := net.InterfaceByName("eth1000"); err != nil {
		t.Skip("no eth1000 (only in the project VM)")
	}
	_, _, err := ethtool.Props{}.Speed(context.Background(), domain.HostNetns, "eth1000")
	require.ErrorIs(t, err, domain.ErrUnsupported)
	assert.ErrorContains(t, err, "no usable speed/duplex")
}
