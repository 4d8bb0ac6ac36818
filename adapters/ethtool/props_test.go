package ethtool

import (
	"context"
	"fmt"
	"testing"
	"unsafe"

	"github.com/mdlayher/netlink"
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

type failingConns struct{ err error }

func (f failingConns) NetlinkConn(domain.Netns) (*netlink.Conn, error) { return nil, f.err }

// A lent socket that cannot be had is the call's error, with its cause
// kept (an absent namespace stays domain.ErrNotFound).
func TestALentSocketThatCannotBeHadIsTheError(t *testing.T) {
	cause := fmt.Errorf("opening rtnetlink socket in netns /run/netns/gone: %w", domain.ErrNotFound)
	_, _, err := Props{Conns: failingConns{cause}}.Speed(context.Background(), "/run/netns/gone", "eth1")
	require.ErrorIs(t, err, domain.ErrNotFound)
	assert.EqualError(t, err, "reading speed of eth1: opening rtnetlink socket in netns /run/netns/gone: not found")
}
