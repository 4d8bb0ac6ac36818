package sriov

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/nlsock"
	"github.com/bondcni/bond/domain"
)

// vfInfo encodes one IFLA_VF_INFO as the kernel does: each struct starts
// with the VF number; the MAC field is 32 bytes.
func vfInfo(ae *netlink.AttributeEncoder, vf uint32, mac net.HardwareAddr, trust, spoof bool) {
	b := func(on bool) uint32 {
		if on {
			return 1
		}
		return 0
	}
	ae.Nested(unix.IFLA_VF_INFO, func(ae *netlink.AttributeEncoder) error {
		m := binary.NativeEndian.AppendUint32(nil, vf)
		ae.Bytes(unix.IFLA_VF_MAC, append(m, append(mac, make([]byte, 26)...)...))
		ae.Bytes(unix.IFLA_VF_SPOOFCHK, binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, vf), b(spoof)))
		ae.Bytes(unix.IFLA_VF_TRUST, binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, vf), b(trust)))
		return nil
	})
}

func TestDecodeVFInfoPicksTheVF(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, "ens1f0")
	ae.Nested(unix.IFLA_VFINFO_LIST, func(ae *netlink.AttributeEncoder) error {
		vfInfo(ae, 0, net.HardwareAddr{0, 0, 0, 0, 0, 0}, false, true)
		vfInfo(ae, 1, net.HardwareAddr{2, 0, 0, 0, 0, 7}, true, false)
		return nil
	})
	b, err := ae.Encode()
	require.NoError(t, err)

	v := domain.VF{Index: 1}
	found, err := decodeVFInfo(b, &v)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "02:00:00:00:00:07", v.AdminMAC.String())
	assert.True(t, v.Trust)
	assert.False(t, v.SpoofChk)

	v = domain.VF{Index: 0}
	found, err = decodeVFInfo(b, &v)
	require.NoError(t, err)
	require.True(t, found)
	assert.False(t, v.HasAdminMAC(), "an all-zero MAC is none")
	assert.True(t, v.SpoofChk)

	v = domain.VF{Index: 5}
	found, err = decodeVFInfo(b, &v)
	require.NoError(t, err)
	assert.False(t, found)
}

// lender lends one connection and counts the loans.
type lender struct {
	c     *netlink.Conn
	err   error
	loans int
}

func (l *lender) NetlinkConn(domain.Netns) (*netlink.Conn, error) {
	l.loans++
	return l.c, l.err
}

func TestReaderUsesTheLentConnection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (an rtnetlink socket)")
	}
	c, err := nlsock.Dial(domain.HostNetns)
	require.NoError(t, err)
	defer c.Close()
	l := &lender{c: c}
	for range 2 {
		_, isVF, err := Reader{Conns: l}.VF(context.Background(), domain.HostNetns, "lo")
		require.NoError(t, err)
		assert.False(t, isVF, "the loopback has no parent device")
	}
	assert.Equal(t, 2, l.loans)
	_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, unix.SizeofIfInfomsg)})
	require.NoError(t, err, "the reader leaves the lent connection open")

	_, _, err = Reader{Conns: &lender{err: domain.ErrNotFound}}.VF(context.Background(), "/gone", "net1")
	require.ErrorIs(t, err, domain.ErrNotFound)
	assert.ErrorContains(t, err, "opening rtnetlink in netns /gone")
}
