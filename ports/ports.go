// Package ports declares, in domain terms, what the use cases in app/ need
// from the outside world (driven ports). Adapters in adapters/ implement
// them: rtnetlink and netns for the kernel, ipam for delegation, state for
// the attachment records, memory for tests.
//
// Vocabulary: in this project "ports" are interfaces; the inbound code that
// drives the use cases (the CNI binary, the HTTP debug server) lives in
// adapters/ too. See ARCHITECTURE.md.
package ports

import (
	"context"
	"net"

	"github.com/bondcni/bond/domain"
)

// Links reads and changes plain links (not bond-specific) in a namespace.
// Errors wrap domain.ErrNotFound when the link or namespace is absent,
// domain.ErrExists when a name is taken.
type Links interface {
	// Link looks a link up by name.
	Link(ctx context.Context, ns domain.Netns, name string) (domain.Link, error)
	// LinkByIndex looks a link up by ifindex.
	LinkByIndex(ctx context.Context, ns domain.Netns, index int) (domain.Link, error)
	// LinkByMAC finds a link whose current or permanent MAC is mac. It may
	// list all links, so it is only for recovery paths (a NIC renamed devN by
	// the kernel after its pod netns died).
	LinkByMAC(ctx context.Context, ns domain.Netns, mac net.HardwareAddr) (domain.Link, error)
	// Move moves the link with index from one namespace to another, naming it
	// newName there, and returns it as seen in the target namespace.
	Move(ctx context.Context, from domain.Netns, index int, to domain.Netns, newName string) (domain.Link, error)
	// Restore sets name, MTU, MAC and admin state to the recorded values,
	// sending only what differs.
	Restore(ctx context.Context, ns domain.Netns, index int, want domain.LinkState) error
	// SetUp sets the admin state.
	SetUp(ctx context.Context, ns domain.Netns, index int, up bool) error
	// Delete removes a link.
	Delete(ctx context.Context, ns domain.Netns, index int) error
}

// Bonds creates, fills, reads and releases bonds.
type Bonds interface {
	// CreateBond creates spec's bond in ns in one message carrying all its
	// options, MTU and MAC, marked with alias; the bond is left down.
	CreateBond(ctx context.Context, ns domain.Netns, spec domain.BondSpec, alias string) (domain.Link, error)
	// Enslave sets the slave down, then enslaves it to the bond.
	Enslave(ctx context.Context, ns domain.Netns, bondIndex, slaveIndex int) error
	// Release removes the slave from its master (the kernel leaves it down).
	Release(ctx context.Context, ns domain.Netns, slaveIndex int) error
	// Bond reads a bond's options, slaves and 802.3ad state.
	Bond(ctx context.Context, ns domain.Netns, name string) (domain.BondState, error)
}

// VLANs creates and reads 8021q devices (deleting one is Links.Delete).
type VLANs interface {
	// CreateVLAN creates spec's VLAN device (name, id, protocol, MTU; MTU 0
	// takes the lower device's) on the link with lowerIndex in ns, marked
	// with alias, and leaves it down. A taken name wraps domain.ErrExists, a
	// missing lower device domain.ErrNotFound.
	CreateVLAN(ctx context.Context, ns domain.Netns, lowerIndex int, spec domain.VLANSpec, alias string) (domain.Link, error)
	// VLAN reads a VLAN device by name: id, protocol and lower device. A
	// missing link wraps domain.ErrNotFound, another kind domain.ErrNotVLAN.
	VLAN(ctx context.Context, ns domain.Netns, name string) (domain.VLANState, error)
}

// Addresses configures layer 3 on a link.
type Addresses interface {
	// Configure adds the addresses and routes to the link (which must be up
	// for routes with a gateway).
	Configure(ctx context.Context, ns domain.Netns, index int, ips []domain.IPConfig, routes []domain.Route) error
	// Addresses lists the link's global addresses.
	Addresses(ctx context.Context, ns domain.Netns, index int) ([]domain.IPConfig, error)
	// CarriesDefaultRoute reports whether a default route (IPv4 or IPv6,
	// any table) goes out through the link.
	CarriesDefaultRoute(ctx context.Context, ns domain.Netns, index int) (bool, error)
}

// Namespaces checks namespace paths.
type Namespaces interface {
	// Check returns nil if path is a network namespace other than the
	// plugin's own, domain.ErrNotFound if it does not exist, and
	// domain.ErrNotNetns if it is something else.
	Check(ctx context.Context, ns domain.Netns) error
}

// LinkProps reads the link properties that rtnetlink does not carry.
type LinkProps interface {
	// Speed returns the link's speed in Mb/s and duplex ("full", "half"), or
	// an error if the driver does not report them.
	Speed(ctx context.Context, ns domain.Netns, name string) (mbps int, duplex string, err error)
}

// VFs reads what the node knows about links that are SR-IOV virtual
// functions: their PF, VF number and PCI address, and the PF's view of
// them (the MAC it holds for the VF, trust, spoofchk).
type VFs interface {
	// VF returns the facts of the link named name in ns, and false if the
	// link is no VF. An absent link is an error wrapping domain.ErrNotFound.
	VF(ctx context.Context, ns domain.Netns, name string) (domain.VF, bool, error)
}

// Invocation carries what the runtime gave the plugin, for delegation.
type Invocation struct {
	ContainerID string
	Netns       domain.Netns
	IfName      string
	Args        string // CNI_ARGS
	Path        string // CNI_PATH
}

// IPAM delegates address management to the configured IPAM plugin, passing
// it the whole network config.
type IPAM interface {
	Add(ctx context.Context, plugin string, conf []byte, inv Invocation) (domain.IPAMResult, error)
	Del(ctx context.Context, plugin string, conf []byte, inv Invocation) error
	Check(ctx context.Context, plugin string, conf []byte, inv Invocation) error
	Status(ctx context.Context, plugin string, conf []byte, inv Invocation) error
	GC(ctx context.Context, plugin string, conf []byte, inv Invocation) error
}

// Store keeps attachment records durably (atomic writes).
type Store interface {
	Save(ctx context.Context, a domain.Attachment) error
	// Load returns the record, or an error wrapping domain.ErrNotFound, or
	// one wrapping domain.ErrUnreadable that names the file.
	Load(ctx context.Context, id domain.AttachmentID) (domain.Attachment, error)
	Delete(ctx context.Context, id domain.AttachmentID) error
	// List returns every record this version can read; see Unreadable.
	List(ctx context.Context) ([]domain.Attachment, error)
	// Unreadable lists the records that exist but cannot be read (Load
	// fails for them with an error wrapping domain.ErrUnreadable), so they
	// are shown and left alone, never silently skipped.
	Unreadable(ctx context.Context) ([]domain.UnreadableRecord, error)
}

// Locks serialises work on shared host resources across plugin processes.
type Locks interface {
	// Claim takes an exclusive lock on each named host link for owner (a
	// description such as the container ID), in a fixed order so that two
	// claims cannot deadlock, waiting until ctx is done. On timeout the error
	// wraps domain.ErrBusy and names the link and its current owner. The
	// returned release drops every lock; it is safe to call more than once.
	Claim(ctx context.Context, links []string, owner string) (release func(), err error)
}
