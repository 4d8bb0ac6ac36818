package nlkernel

import (
	"context"
	"errors"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestOpenDialsAheadOnce(t *testing.T) {
	f := &fakeKernel{reply: func(request) ([]rtnetlink.Message, error) {
		return []rtnetlink.Message{&rtnetlink.LinkMessage{Index: 7, Attributes: &rtnetlink.LinkAttributes{Name: "net1"}}}, nil
	}}
	dials := map[domain.Netns]int{}
	a := newAdapter(func(ns domain.Netns) (executor, error) { dials[ns]++; return f, nil })
	defer a.Close()
	a.Open("/pod")
	_, err := a.Link(context.Background(), "/pod", "net1")
	require.NoError(t, err)
	assert.Equal(t, map[domain.Netns]int{"/pod": 1}, dials, "the request used the socket Open made")
}

func TestOpenLeavesItsErrorToTheRequest(t *testing.T) {
	refuse := errors.New("no such namespace")
	dials := 0
	a := newAdapter(func(domain.Netns) (executor, error) { dials++; return nil, refuse })
	defer a.Close()
	a.Open("/gone")
	_, err := a.Link(context.Background(), "/gone", "net1")
	require.ErrorIs(t, err, refuse, "the request dials again and reports what failed")
	assert.Equal(t, 2, dials)
}

// nopSocket is a netlink.Socket that is never used, only closed.
type nopSocket struct{ netlink.Socket }

func (nopSocket) Close() error { return nil }

func TestNetlinkConnLendsTheKeptSocket(t *testing.T) {
	nc := netlink.NewConn(nopSocket{}, 0)
	dials := 0
	a := newAdapter(func(domain.Netns) (executor, error) { dials++; return conn{nl: nc}, nil })
	defer a.Close()
	for range 2 {
		got, err := a.NetlinkConn("/pod")
		require.NoError(t, err)
		assert.Same(t, nc, got)
	}
	assert.Equal(t, 1, dials)

	f, _ := newFake(t, nil)
	_, err := f.NetlinkConn("/pod")
	assert.ErrorContains(t, err, "not a netlink socket")
}
