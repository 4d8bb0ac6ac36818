package nlsock

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns/netnstest"
	"github.com/bondcni/bond/domain"
)

// These tests talk to the running kernel's rtnetlink, which needs no
// bonding driver: they run natively as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func dial(t *testing.T, ns domain.Netns) *netlink.Conn {
	t.Helper()
	c, err := Dial(ns)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

func execute(c *netlink.Conn, m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]netlink.Message, error) {
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return c.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags}, Data: data})
}

func loopback(t *testing.T, c *netlink.Conn) *rtnetlink.LinkMessage {
	t.Helper()
	replies, err := execute(c, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "lo"}}, unix.RTM_GETLINK, netlink.Request)
	require.NoError(t, err)
	require.Len(t, replies, 1)
	require.Equal(t, netlink.HeaderType(unix.RTM_NEWLINK), replies[0].Header.Type)
	var lo rtnetlink.LinkMessage
	require.NoError(t, lo.UnmarshalBinary(replies[0].Data))
	require.Equal(t, "lo", lo.Attributes.Name)
	return &lo
}

func TestSocketLivesInItsNamespace(t *testing.T) {
	requireRoot(t)
	host := loopback(t, dial(t, domain.HostNetns))
	assert.NotZero(t, host.Flags&unix.IFF_UP, "the host's loopback is up")
	// A new namespace's loopback is down: the socket was opened inside it,
	// though the test's own thread never left the host.
	pod := netnstest.New(t)
	assert.Zero(t, loopback(t, dial(t, pod)).Flags&unix.IFF_UP, "the new namespace's loopback")
}

// Control lends the descriptor for an ioctl, which acts in the socket's
// namespace whichever thread issues it; a closed socket lends nothing.
func TestControlLendsTheSocketForAnIoctl(t *testing.T) {
	requireRoot(t)
	loUp := func(c *netlink.Conn) bool {
		t.Helper()
		var (
			flags uint16
			ierr  error
		)
		require.NoError(t, Control(c, func(fd int) {
			ifr, err := unix.NewIfreq("lo")
			if err == nil {
				err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
				flags = ifr.Uint16()
			}
			ierr = err
		}))
		require.NoError(t, ierr)
		return flags&unix.IFF_UP != 0
	}
	assert.True(t, loUp(dial(t, domain.HostNetns)), "the host's loopback is up")
	assert.False(t, loUp(dial(t, netnstest.New(t))), "the new namespace's loopback is down")

	c, err := Dial(domain.HostNetns)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	ran := false
	require.ErrorIs(t, Control(c, func(int) { ran = true }), unix.EBADF)
	assert.False(t, ran)
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	assert.ErrorIs(t, rc.Read(func(uintptr) bool { return true }), errRawIO, "reads go through Conn")
}

func TestKernelErrorsKeepTheirText(t *testing.T) {
	requireRoot(t)
	c := dial(t, domain.HostNetns)
	// With strict checking a link dump filtered by index is refused, and the
	// extended ack carries the kernel's reason; without either option the
	// kernel would dump every link.
	_, err := execute(c, &rtnetlink.LinkMessage{Index: 1}, unix.RTM_GETLINK, netlink.Request|netlink.Dump)
	require.ErrorIs(t, err, unix.EINVAL)
	var oe *netlink.OpError
	require.True(t, errors.As(err, &oe), "%T", err)
	assert.Contains(t, oe.Message, "dump")

	_, err = execute(c, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "no-such-link"}}, unix.RTM_GETLINK, netlink.Request)
	require.ErrorIs(t, err, unix.ENODEV)
}

func TestDumpAcrossManyDatagrams(t *testing.T) {
	requireRoot(t)
	c := dial(t, netnstest.New(t))
	lo := loopback(t, c)
	// 1200 addresses make a dump of about 100 KiB: several datagrams, each
	// read whole into the fixed buffer.
	const n = 1200
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, 77, byte(i >> 8), byte(i)})
		_, err := execute(c, &rtnetlink.AddressMessage{
			Family: unix.AF_INET, PrefixLength: 32, Index: lo.Index,
			Attributes: &rtnetlink.AddressAttributes{Address: ip.AsSlice(), Local: ip.AsSlice()},
		}, unix.RTM_NEWADDR, netlink.Request|netlink.Create|netlink.Excl|netlink.Acknowledge)
		require.NoError(t, err, "address %d", i)
	}
	replies, err := execute(c, &rtnetlink.AddressMessage{Family: unix.AF_INET}, unix.RTM_GETADDR, netlink.Request|netlink.Dump)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range replies {
		var a rtnetlink.AddressMessage
		require.NoError(t, a.UnmarshalBinary(r.Data))
		seen[a.Attributes.Address.String()] = true
	}
	assert.Len(t, seen, n, "every address once (a fresh namespace's loopback has no IPv4 address of its own)")
}

func TestNextSplitsAndRefusesBadLengths(t *testing.T) {
	msg := func(length uint32, typ uint16, payload int) []byte {
		b := make([]byte, align(headerLen+payload))
		binary.NativeEndian.PutUint32(b, length)
		binary.NativeEndian.PutUint16(b[4:], typ)
		return b
	}
	two := append(msg(headerLen+5, 100, 5), msg(headerLen, 101, 0)...)
	m, rest, err := next(two)
	require.NoError(t, err)
	assert.Equal(t, netlink.HeaderType(100), m.Header.Type)
	assert.Len(t, m.Data, 5, "the padding is not data")
	m, rest, err = next(rest)
	require.NoError(t, err)
	assert.Equal(t, netlink.HeaderType(101), m.Header.Type)
	assert.Empty(t, rest)

	for name, b := range map[string][]byte{
		"shorter than a header": make([]byte, 8),
		"length zero":           msg(0, 1, 0),
		"length past the end":   msg(headerLen+64, 1, 4),
	} {
		_, _, err := next(b)
		assert.Error(t, err, name)
	}
}

// FuzzNext: no datagram makes the splitter panic or loop.
func FuzzNext(f *testing.F) {
	f.Add([]byte{20, 0, 0, 0, 3, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		b = append(b, make([]byte, align(len(b))-len(b))...)
		for len(b) > 0 {
			_, rest, err := next(b)
			if err != nil {
				return
			}
			if len(rest) >= len(b) {
				t.Fatalf("no progress on %x", b)
			}
			b = rest
		}
	})
}

// fakeKernel is a datagram socket pair: the socket under test on one end,
// the test playing the kernel's part on the other.
func fakeKernel(t *testing.T) (*socket, func(typ uint16, flags netlink.HeaderFlags, size int)) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[1]) })
	require.NoError(t, unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_SNDBUF, 4*BufferSize))
	// A datagram the test expects but the code discarded fails the read
	// instead of blocking the test.
	require.NoError(t, unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}))
	s := &socket{fd: fds[0], buf: make([]byte, BufferSize)}
	t.Cleanup(func() { s.Close() })
	reply := func(typ uint16, flags netlink.HeaderFlags, size int) {
		b := make([]byte, align(size))
		binary.NativeEndian.PutUint32(b, uint32(size))
		binary.NativeEndian.PutUint16(b[4:], typ)
		binary.NativeEndian.PutUint16(b[6:], uint16(flags))
		require.NoError(t, unix.Send(fds[1], b, 0))
	}
	return s, reply
}

func TestAnOversizedDatagramIsAnError(t *testing.T) {
	// The reader sees one datagram larger than its buffer, and must say
	// so, not return a part.
	s, reply := fakeKernel(t)
	reply(42, 0, BufferSize+100)
	_, err := s.Receive()
	require.ErrorIs(t, err, ErrTruncated)
	assert.ErrorContains(t, err, "65636 bytes")

	// The next datagram is read whole.
	reply(42, 0, headerLen+4)
	ms, err := s.Receive()
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, netlink.HeaderType(42), ms[0].Header.Type)
	assert.Len(t, ms[0].Data, 4)
}

func TestARequestDiscardsWhatIsLeftOfAnUnfinishedReply(t *testing.T) {
	s, reply := fakeKernel(t)
	s.beginRequest()
	// A dump whose first part did not fit: its reader gives up there, and
	// the rest of the dump is still queued.
	reply(16, netlink.Multi, BufferSize+100)
	reply(16, netlink.Multi, headerLen+8)
	reply(uint16(netlink.Done), netlink.Multi, headerLen+4)
	_, err := s.Receive()
	require.ErrorIs(t, err, ErrTruncated)

	s.beginRequest()
	reply(77, 0, headerLen)
	ms, err := s.Receive()
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, netlink.HeaderType(77), ms[0].Header.Type, "the answer to this request, not the old dump's rest")

	// A reply read to its end leaves nothing to discard: the next request
	// does not read ahead of its own reply.
	s.beginRequest()
	reply(78, 0, headerLen)
	ms, err = s.Receive()
	require.NoError(t, err)
	assert.Equal(t, netlink.HeaderType(78), ms[0].Header.Type)
	reply(79, 0, headerLen) // queued before the request that expects it
	s.beginRequest()
	ms, err = s.Receive()
	require.NoError(t, err)
	assert.Equal(t, netlink.HeaderType(79), ms[0].Header.Type)
}

func TestAClosedSocketIsNeverUsed(t *testing.T) {
	s, _ := fakeKernel(t)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Close(), unix.EBADF)
	_, err := s.Receive()
	require.ErrorIs(t, err, unix.EBADF)
	require.ErrorIs(t, s.Send(netlink.Message{Header: netlink.Header{Length: headerLen}}), unix.EBADF)
}
