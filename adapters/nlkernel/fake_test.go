package nlkernel

import (
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// request is one message the adapter sent.
type request struct {
	typ   uint16
	flags netlink.HeaderFlags
	msg   rtnetlink.Message
}

func (r request) link(t *testing.T) *rtnetlink.LinkMessage {
	t.Helper()
	m, ok := r.msg.(*rtnetlink.LinkMessage)
	require.True(t, ok, "request is a %T", r.msg)
	return m
}

// fakeKernel records requests and answers them with reply, which defaults
// to an empty ack.
type fakeKernel struct {
	reqs  []request
	reply func(r request) ([]rtnetlink.Message, error)
}

func (f *fakeKernel) Execute(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]rtnetlink.Message, error) {
	// Marshal as the real connection would, so encoding errors surface.
	if _, err := m.MarshalBinary(); err != nil {
		return nil, err
	}
	r := request{typ: typ, flags: flags, msg: m}
	f.reqs = append(f.reqs, r)
	if f.reply == nil {
		return nil, nil
	}
	return f.reply(r)
}

func (f *fakeKernel) Close() error { return nil }

func newFake(t *testing.T, reply func(r request) ([]rtnetlink.Message, error)) (*Adapter, *fakeKernel) {
	t.Helper()
	f := &fakeKernel{reply: reply}
	a := newAdapter(func(domain.Netns) (executor, error) { return f, nil })
	t.Cleanup(func() { _ = a.Close() })
	return a, f
}

// kernelErr is what the netlink package returns for an errno with extack.
func kernelErr(errno unix.Errno, msg string) error {
	return &netlink.OpError{Op: "receive", Err: errno, Message: msg}
}

// isGet tells whether r is an RTM_GETLINK for name (by name, no dump).
func isGet(r request, name string) bool {
	m, ok := r.msg.(*rtnetlink.LinkMessage)
	return ok && r.typ == unix.RTM_GETLINK && r.flags&netlink.Dump == 0 && m.Attributes != nil && m.Attributes.Name == name
}

func linkMsg(index uint32, name string, flags uint32, attrs func(*rtnetlink.LinkAttributes)) *rtnetlink.LinkMessage {
	a := &rtnetlink.LinkAttributes{Name: name, MTU: 1500, Address: []byte{2, 0, 0, 0, 0, byte(index)}}
	if attrs != nil {
		attrs(a)
	}
	return &rtnetlink.LinkMessage{Index: index, Flags: flags, Attributes: a}
}
