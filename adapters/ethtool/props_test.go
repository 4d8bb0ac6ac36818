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
