package ethtool

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestEthtoolCmdLayout(t *testing.T) {
	assert.Equal(t, uintptr(44), unsafe.Sizeof(ethtoolCmd{}))
	assert.Equal(t, uintptr(32), unsafe.Offsetof(ethtoolCmd{}.LpAdvertising))
	assert.GreaterOrEqual(t, unsafe.Sizeof(ifreqData{}), uintptr(40))
}

func TestCheckSettings(t *testing.T) {
	mbps, d, err := checkSettings("eth1", 25000, duplexFull)
	require.NoError(t, err)
	assert.Equal(t, 25000, mbps)
	assert.Equal(t, "full", d)
	_, d, err = checkSettings("eth1", 100, duplexHalf)
	require.NoError(t, err)
	assert.Equal(t, "half", d)

	for _, c := range []struct {
		speed  uint32
		duplex uint8
	}{{0, duplexFull}, {unknownSpeed, duplexFull}, {1000, 0xff}} {
		_, _, err := checkSettings("eth1", c.speed, c.duplex)
		require.ErrorIs(t, err, domain.ErrUnsupported)
		assert.ErrorContains(t, err, "no usable speed/duplex")
	}
}

func TestPCIAddress(t *testing.T) {
	assert.Equal(t, "0000:03:00.1", pciAddress("/sys/devices/pci0000:00/0000:00:02.0/0000:03:00.1"))
	assert.Equal(t, "0000:af:10.7", pciAddress("/sys/devices/pci0000:00/0000:00:01.0/0000:af:10.7"))
	assert.Equal(t, "0000:00:03.0", pciAddress("/sys/devices/pci0000:00/0000:00:03.0/virtio2"))
	assert.Equal(t, "", pciAddress("/sys/devices/virtual/net/veth0"))
	assert.Equal(t, "", pciAddress("/sys/devices/platform/vif-0"))
}
