// Package nlkernel implements the link, bond and address ports over rtnetlink
// (github.com/jsimonetti/rtnetlink/v2). It never moves a thread between
// namespaces: it keeps one netlink socket per namespace, opened inside it
// (netlink.Config.NetNS), lazily and for the adapter's lifetime.
//
// Every request goes through Adapter.exec, which counts round trips. Bond
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
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// executor is the part of *rtnetlink.Conn the adapter uses; tests swap it.
type executor interface {
	Execute(m rtnetlink.Message, family uint16, flags netlink.HeaderFlags) ([]rtnetlink.Message, error)
	Close() error
}

var _ executor = (*rtnetlink.Conn)(nil)

// dialFunc opens an rtnetlink socket inside the namespace open at fd.
type dialFunc func(fd int) (executor, error)

func dialStrict(fd int) (executor, error) {
	// Strict: extended acks (the kernel's extack text lands in errors) and
	// strict checking of dump requests (kernel-side filters).
	cfg := &netlink.Config{NetNS: fd, Strict: true}
	c, err := rtnetlink.Dial(cfg)
	if err != nil {
		return nil, err
	}
	raw, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &strictConn{Conn: c, raw: raw}, nil
}

// rawExecutor is an executor that can also return the kernel's replies
// undecoded, for the link attributes rtnetlink does not decode
// (IFLA_MIN_MTU, IFLA_MAX_MTU).
type rawExecutor interface {
	ExecuteRaw(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]netlink.Message, error)
}

// strictConn is the production executor: an rtnetlink connection, and a
// second socket in the same namespace for the raw requests.
type strictConn struct {
	*rtnetlink.Conn
	raw *netlink.Conn
}

func (s *strictConn) ExecuteRaw(m rtnetlink.Message, typ uint16, flags netlink.HeaderFlags) ([]netlink.Message, error) {
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return s.raw.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags}, Data: data})
}

func (s *strictConn) Close() error { return errors.Join(s.Conn.Close(), s.raw.Close()) }

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
	f, err := netns.Open(ns)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the socket keeps its own reference to the namespace
	c, err := a.dial(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink socket in %s: %w", nsName(ns), err)
	}
	a.conns[ns] = c
	return c, nil
}

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
			errs = append(errs, fmt.Errorf("closing rtnetlink socket in %s: %w", nsName(ns), err))
		}
	}
	a.conns = map[domain.Netns]executor{}
	a.closed = true
	return errors.Join(errs...)
}

// nsName names a namespace in messages.
func nsName(ns domain.Netns) string {
	if ns == domain.HostNetns {
		return "the host netns"
	}
	return "netns " + string(ns)
}
