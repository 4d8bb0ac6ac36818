// Package nlkernel implements the link, bond and address ports over rtnetlink
// (github.com/jsimonetti/rtnetlink/v2). It never moves the calling thread
// between namespaces: it keeps one netlink socket per namespace, opened
// inside it on a thread of its own (adapters/nlsock), lazily and for the
// adapter's lifetime.
//
// Every request goes through Adapter.exec, which counts round trips (the
// SR-IOV reader's lookups on a lent socket, NetlinkConn, are not counted). Bond
// requests follow the kernel rules in docs/kernel-notes.md: one create
// message carrying every option, the two-message enslave (down, then
// IFLA_MASTER with no flag change), and never LinkService.SetMaster.
package nlkernel

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jsimonetti/rtnetlink/v2"
	_ "github.com/jsimonetti/rtnetlink/v2/driver" // registers the bond and veth link drivers
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/nlsock"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// executor is what the adapter needs of a connection; tests swap it.
type executor interface {
	Execute(m rtnetlink.Message, family uint16, flags netlink.HeaderFlags) ([]rtnetlink.Message, error)
	Close() error
}

// dialFunc opens an rtnetlink connection inside ns.
type dialFunc func(ns domain.Netns) (executor, error)

func dialStrict(ns domain.Netns) (executor, error) {
	c, err := nlsock.Dial(ns)
	if err != nil {
		return nil, err
	}
	return conn{c}, nil
}

// rawExecutor is an executor that can also return the kernel's replies
// undecoded, for the link attributes rtnetlink does not decode
// (IFLA_MIN_MTU, IFLA_MAX_MTU).
type rawExecutor interface {
	ExecuteRaw(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]netlink.Message, error)
}

// conn is the production executor: rtnetlink's message types over a
// netlink connection on an nlsock socket (one per namespace).
type conn struct{ nl *netlink.Conn }

func (c conn) ExecuteRaw(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]netlink.Message, error) {
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return c.nl.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags}, Data: data})
}

// Execute decodes each reply into rtnetlink's type for it; a reply of
// another kind (an ack) leaves a nil at its index.
func (c conn) Execute(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]rtnetlink.Message, error) {
	raw, err := c.ExecuteRaw(m, typ, flags)
	if err != nil {
		return nil, err
	}
	out := make([]rtnetlink.Message, len(raw))
	for i, r := range raw {
		var d rtnetlink.Message
		switch r.Header.Type {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_GETLINK:
			d = &rtnetlink.LinkMessage{}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR, unix.RTM_GETADDR:
			d = &rtnetlink.AddressMessage{}
		case unix.RTM_NEWROUTE, unix.RTM_DELROUTE, unix.RTM_GETROUTE:
			d = &rtnetlink.RouteMessage{}
		default:
			continue
		}
		if err := d.UnmarshalBinary(r.Data); err != nil {
			return nil, fmt.Errorf("decoding a reply of type %d: %w", r.Header.Type, err)
		}
		out[i] = d
	}
	return out, nil
}

func (c conn) Close() error { return c.nl.Close() }

// Adapter is a ports.Links, ports.Bonds and ports.Addresses on rtnetlink.
// It is safe for concurrent use. Close it when done.
type Adapter struct {
	dial   dialFunc
	mu     sync.Mutex
	conns  map[domain.Netns]executor
	trips  atomic.Uint64
	closed bool
}

var (
	_ ports.Links     = (*Adapter)(nil)
	_ ports.Bonds     = (*Adapter)(nil)
	_ ports.Addresses = (*Adapter)(nil)
)

// New returns an adapter; sockets are opened on first use of a namespace.
func New() *Adapter { return newAdapter(dialStrict) }

func newAdapter(dial dialFunc) *Adapter {
	return &Adapter{dial: dial, conns: map[domain.Netns]executor{}}
}

// RoundTrips is the number of netlink requests sent so far.
func (a *Adapter) RoundTrips() uint64 { return a.trips.Load() }

// conn returns the socket for ns, opening it on first use. Errors wrap
// domain.ErrNotFound or domain.ErrNotNetns for a bad namespace path.
func (a *Adapter) conn(ns domain.Netns) (executor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errors.New("rtnetlink adapter is closed")
	}
	if c, ok := a.conns[ns]; ok {
		return c, nil
	}
	c, err := a.dial(ns)
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink socket in %s: %w", netns.Name(ns), err)
	}
	a.conns[ns] = c
	return c, nil
}

// NetlinkConn lends the connection the adapter keeps for ns (opening it
// if need be) to another reader of the same kernel; the adapter closes it.
func (a *Adapter) NetlinkConn(ns domain.Netns) (*netlink.Conn, error) {
	c, err := a.conn(ns)
	if err != nil {
		return nil, err
	}
	nc, ok := c.(conn)
	if !ok {
		return nil, fmt.Errorf("the rtnetlink connection in %s is a %T, not a netlink socket", netns.Name(ns), c)
	}
	return nc.nl, nil
}

// Open opens the socket for ns ahead of its first request, so that
// request need not wait for it. An error is not kept: the first request in
// ns tries again and reports it.
func (a *Adapter) Open(ns domain.Netns) { _, _ = a.conn(ns) }

// exec sends one request and returns the replies, counting the round trip.
func (a *Adapter) exec(c executor, m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]rtnetlink.Message, error) {
	a.trips.Add(1)
	return c.Execute(m, typ, flags)
}

// Forget closes the socket held for ns, if any. A socket keeps its namespace
// alive, so callers that destroy a namespace (tests) forget it first.
func (a *Adapter) Forget(ns domain.Netns) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.conns[ns]
	if !ok {
		return nil
	}
	delete(a.conns, ns)
	return c.Close()
}

// Close closes every socket.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for ns, c := range a.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing rtnetlink socket in %s: %w", netns.Name(ns), err))
		}
	}
	a.conns = map[domain.Netns]executor{}
	a.closed = true
	return errors.Join(errs...)
}
