// Package readonly wraps the driven ports for the debug daemon so that it
// cannot change the node whatever code path runs: every method that would
// change a link, a bond, an address, a record, IPAM or a lock is refused
// with ErrReadOnly, and reads pass through.
//
// Kernel also keeps the daemon from pinning pod namespaces: an rtnetlink
// socket opened in a namespace holds that namespace alive, so a
// long-running reader that cached sockets (as the nlkernel adapter does for
// the lifetime of a one-shot CNI call) would stop a dead pod's netns from
// being freed and its physical NICs from returning to the host. Kernel
// closes a pod namespace's socket as soon as no read uses it any more.
package readonly

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// ErrReadOnly is returned by every method that would change the node.
var ErrReadOnly = errors.New("read-only: the debug daemon never changes the node")

func refused(op string) error { return fmt.Errorf("%s: %w", op, ErrReadOnly) }

// KernelPorts is what Kernel wraps (the nlkernel adapter, or the memory kernel).
type KernelPorts interface {
	ports.Links
	ports.Bonds
	ports.Addresses
	ports.VLANs
}

// forgetter is implemented by adapters that cache a socket per namespace
// (nlkernel.Adapter.Forget).
type forgetter interface {
	Forget(ns domain.Netns) error
}

// Kernel is a read-only ports.Links, ports.Bonds and ports.Addresses. It is
// safe for concurrent use.
type Kernel struct {
	k      KernelPorts
	forget forgetter // nil if k caches nothing

	mu    sync.Mutex
	inUse map[domain.Netns]int
}

var (
	_ ports.Links     = (*Kernel)(nil)
	_ ports.Bonds     = (*Kernel)(nil)
	_ ports.Addresses = (*Kernel)(nil)
	_ ports.VLANs     = (*Kernel)(nil)
)

// NewKernel wraps k. If k has a Forget(domain.Netns) error method, the
// socket of a pod namespace is closed when its last concurrent read ends
// (the host namespace's is kept).
func NewKernel(k KernelPorts) *Kernel {
	kr := &Kernel{k: k, inUse: map[domain.Netns]int{}}
	if f, ok := k.(forgetter); ok {
		kr.forget = f
	}
	return kr
}

// use marks a read in ns; the returned func ends it, and the last one out
// closes the namespace's socket.
func (k *Kernel) use(ns domain.Netns) func() {
	if k.forget == nil || ns == domain.HostNetns {
		return func() {}
	}
	k.mu.Lock()
	k.inUse[ns]++
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.inUse[ns]--
		if k.inUse[ns] == 0 {
			delete(k.inUse, ns)
			// Under k.mu: a read starting now waits, then opens a fresh socket.
			_ = k.forget.Forget(ns)
		}
	}
}

// Link reads a link by name.
func (k *Kernel) Link(ctx context.Context, ns domain.Netns, name string) (domain.Link, error) {
	defer k.use(ns)()
	return k.k.Link(ctx, ns, name)
}

// LinkByIndex reads a link by ifindex.
func (k *Kernel) LinkByIndex(ctx context.Context, ns domain.Netns, index int) (domain.Link, error) {
	defer k.use(ns)()
	return k.k.LinkByIndex(ctx, ns, index)
}

// LinkByMAC finds a link by MAC.
func (k *Kernel) LinkByMAC(ctx context.Context, ns domain.Netns, mac net.HardwareAddr) (domain.Link, error) {
	defer k.use(ns)()
	return k.k.LinkByMAC(ctx, ns, mac)
}

// Bond reads a bond.
func (k *Kernel) Bond(ctx context.Context, ns domain.Netns, name string) (domain.BondState, error) {
	defer k.use(ns)()
	return k.k.Bond(ctx, ns, name)
}

// VLAN reads a VLAN device.
func (k *Kernel) VLAN(ctx context.Context, ns domain.Netns, name string) (domain.VLANState, error) {
	defer k.use(ns)()
	return k.k.VLAN(ctx, ns, name)
}

// CreateVLAN is refused.
func (k *Kernel) CreateVLAN(context.Context, domain.Netns, int, domain.VLANSpec, string) (domain.Link, error) {
	return domain.Link{}, refused("creating a VLAN device")
}

// Addresses lists a link's addresses.
func (k *Kernel) Addresses(ctx context.Context, ns domain.Netns, index int) ([]domain.IPConfig, error) {
	defer k.use(ns)()
	return k.k.Addresses(ctx, ns, index)
}

// CarriesDefaultRoute reads the routes through the link.
func (k *Kernel) CarriesDefaultRoute(ctx context.Context, ns domain.Netns, index int) (bool, error) {
	defer k.use(ns)()
	return k.k.CarriesDefaultRoute(ctx, ns, index)
}

// Move is refused.
func (k *Kernel) Move(context.Context, domain.Netns, int, domain.Netns, string) (domain.Link, error) {
	return domain.Link{}, refused("moving a link")
}

// Restore is refused.
func (k *Kernel) Restore(context.Context, domain.Netns, int, domain.LinkState) error {
	return refused("restoring a link")
}

// SetUp is refused.
func (k *Kernel) SetUp(context.Context, domain.Netns, int, bool) error {
	return refused("setting a link up or down")
}

// Delete is refused.
func (k *Kernel) Delete(context.Context, domain.Netns, int) error {
	return refused("deleting a link")
}

// CreateBond is refused.
func (k *Kernel) CreateBond(context.Context, domain.Netns, domain.BondSpec, string) (domain.Link, error) {
	return domain.Link{}, refused("creating a bond")
}

// Enslave is refused.
func (k *Kernel) Enslave(context.Context, domain.Netns, int, int) error {
	return refused("enslaving a link")
}

// Release is refused.
func (k *Kernel) Release(context.Context, domain.Netns, int) error {
	return refused("releasing a link")
}

// Configure is refused.
func (k *Kernel) Configure(context.Context, domain.Netns, int, []domain.IPConfig, []domain.Route) error {
	return refused("configuring addresses")
}

// Store is a read-only ports.Store.
type Store struct{ S ports.Store }

var _ ports.Store = Store{}

// Load reads a record.
func (s Store) Load(ctx context.Context, id domain.AttachmentID) (domain.Attachment, error) {
	return s.S.Load(ctx, id)
}

// List reads every record.
func (s Store) List(ctx context.Context) ([]domain.Attachment, error) { return s.S.List(ctx) }

// Unreadable reads.
func (s Store) Unreadable(ctx context.Context) ([]domain.UnreadableRecord, error) {
	return s.S.Unreadable(ctx)
}

// Save is refused.
func (s Store) Save(context.Context, domain.Attachment) error { return refused("writing a record") }

// Delete is refused.
func (s Store) Delete(context.Context, domain.AttachmentID) error {
	return refused("removing a record")
}

// IPAM refuses every IPAM call: even CHECK and STATUS run a plugin that
// may write (a lease file, a datastore), and the daemon needs none.
type IPAM struct{}

var _ ports.IPAM = IPAM{}

func (IPAM) Add(context.Context, string, []byte, ports.Invocation) (domain.IPAMResult, error) {
	return domain.IPAMResult{}, refused("IPAM ADD")
}
func (IPAM) Del(context.Context, string, []byte, ports.Invocation) error {
	return refused("IPAM DEL")
}
func (IPAM) Check(context.Context, string, []byte, ports.Invocation) error {
	return refused("IPAM CHECK")
}
func (IPAM) Status(context.Context, string, []byte, ports.Invocation) error {
	return refused("IPAM STATUS")
}
func (IPAM) GC(context.Context, string, []byte, ports.Invocation) error { return refused("IPAM GC") }

// Locks refuses every claim at once: the daemon never holds a lock an ADD
// or a DEL could wait for.
type Locks struct{}

var _ ports.Locks = Locks{}

func (Locks) Claim(context.Context, []string, string) (func(), error) {
	return nil, refused("claiming host links")
}
