package nlkernel

import (
	"context"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// rawFake answers link requests with raw replies, as strictConn does: the
// link's message followed by IFLA_MIN_MTU and IFLA_MAX_MTU.
type rawFake struct {
	fakeKernel
	links map[string]*rtnetlink.LinkMessage
	min   uint32
	max   uint32
}

func (f *rawFake) ExecuteRaw(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]netlink.Message, error) {
	f.reqs = append(f.reqs, request{typ: typ, flags: flags, msg: m})
	req := m.(*rtnetlink.LinkMessage)
	var out []netlink.Message
	for _, l := range f.links {
		if flags&netlink.Dump == 0 && l.Attributes.Name != req.Attributes.Name && l.Index != req.Index {
			continue
		}
		body, err := l.MarshalBinary()
		if err != nil {
			return nil, err
		}
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(unix.IFLA_MIN_MTU, f.min)
		ae.Uint32(unix.IFLA_MAX_MTU, f.max)
		extra, err := ae.Encode()
		if err != nil {
			return nil, err
		}
		out = append(out, netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: append(body, extra...)})
	}
	if len(out) == 0 {
		return nil, kernelErr(unix.ENODEV, "")
	}
	return out, nil
}

func TestLinksCarryTheDriversMTURange(t *testing.T) {
	f := &rawFake{links: map[string]*rtnetlink.LinkMessage{"s1": linkMsg(4, "s1", 0, nil)}, min: 68, max: 3506}
	a := newAdapter(func(domain.Netns) (executor, error) { return f, nil })
	t.Cleanup(func() { _ = a.Close() })
	ctx := context.Background()

	l, err := a.Link(ctx, domain.HostNetns, "s1")
	require.NoError(t, err)
	assert.Equal(t, "s1", l.Name)
	assert.Equal(t, 1500, l.MTU)
	assert.Equal(t, 68, l.MinMTU)
	assert.Equal(t, 3506, l.MaxMTU)
	assert.Equal(t, uint64(1), a.RoundTrips(), "still one request")
	require.Len(t, f.reqs, 1)
	assert.Equal(t, uint16(unix.RTM_GETLINK), f.reqs[0].typ)
	assert.Zero(t, f.reqs[0].flags&netlink.Dump, "a lookup, not a dump")

	byIndex, err := a.LinkByIndex(ctx, domain.HostNetns, 4)
	require.NoError(t, err)
	assert.Equal(t, l, byIndex, "every lookup reads the range")

	_, err = a.Link(ctx, domain.HostNetns, "nope")
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestLinksWithoutRawRepliesHaveNoMTURange(t *testing.T) {
	a, _ := newFake(t, func(r request) ([]rtnetlink.Message, error) {
		return []rtnetlink.Message{linkMsg(4, "s1", 0, nil)}, nil
	})
	l, err := a.Link(context.Background(), domain.HostNetns, "s1")
	require.NoError(t, err)
	assert.Zero(t, l.MinMTU)
	assert.Zero(t, l.MaxMTU)
}

func TestReplyFromRawRejectsShortMessages(t *testing.T) {
	_, err := replyFromRaw([]byte{1, 2, 3})
	require.Error(t, err)
}
