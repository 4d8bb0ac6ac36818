package ethtool_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/ethtool"
	"github.com/bondcni/bond/domain"
)

func TestKernelSpeedOfDownVethInNetns(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	l := h.NewLink(t, ns, "eth1", 0)
	require.False(t, l.Up)

	mbps, duplex, err := ethtool.Props{}.Speed(ctx, ns, "eth1")
	require.NoError(t, err)
	assert.Equal(t, 10000, mbps)
	assert.Equal(t, "full", duplex)

	_, _, err = ethtool.Props{}.Speed(ctx, ns, "lo")
	require.ErrorIs(t, err, domain.ErrUnsupported)
	assert.ErrorContains(t, err, "no usable speed/duplex")

	_, _, err = ethtool.Props{}.Speed(ctx, ns, "nope")
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, _, err = ethtool.Props{}.Speed(ctx, "/nonexistent/netns", "eth1")
	require.ErrorIs(t, err, domain.ErrNotFound)
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
