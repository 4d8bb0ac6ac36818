package ethtool_test

import (
	"context"
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

func TestKernelPCIAddressInNetns(t *testing.T) {
	h := contract.NewRealHarness(t)
	ctx := context.Background()
	ns := h.NewNetns(t)
	h.NewLink(t, ns, "eth1", 0)

	addr, err := ethtool.Props{}.PCIAddress(ctx, ns, "eth1")
	require.NoError(t, err)
	assert.Empty(t, addr, "a veth has no device")

	// Only the namespace's own links are visible.
	_, err = ethtool.Props{}.PCIAddress(ctx, ns, "eth0")
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = ethtool.Props{}.PCIAddress(ctx, domain.HostNetns, "eth1")
	require.ErrorIs(t, err, domain.ErrNotFound)

	_, err = ethtool.Props{}.PCIAddress(ctx, domain.HostNetns, "lo")
	require.NoError(t, err)
}

// In the project VM the host has two virtio NICs, eth1000 and eth1001.
func TestKernelHostNIC(t *testing.T) {
	ctx := context.Background()
	if _, err := (ethtool.Props{}).PCIAddress(ctx, domain.HostNetns, "eth1000"); err != nil {
		t.Skip("no eth1000 (only in the project VM)")
	}
	addr, err := ethtool.Props{}.PCIAddress(ctx, domain.HostNetns, "eth1000")
	require.NoError(t, err)
	assert.Regexp(t, `^0000:00:[0-9a-f]{2}\.0$`, addr)
	mbps, duplex, err := ethtool.Props{}.Speed(ctx, domain.HostNetns, "eth1000")
	t.Logf("eth1000: pci %s, speed %d %q, err %v", addr, mbps, duplex, err)
}
