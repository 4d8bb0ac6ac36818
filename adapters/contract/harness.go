// Package contract holds one behavioural test suite per driven port. Each
// suite runs against the memory adapter in plain `go test`, and against the
// real adapters (rtnetlink, netns, sysfs) on a real kernel in the VM lane, so
// the fake cannot drift from the kernel it stands in for.
package contract

import (
	"testing"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Harness gives a suite the adapters under test and a way to build the
// scenery (namespaces and links) they act on.
type Harness interface {
	Links() ports.Links
	Bonds() ports.Bonds
	Addresses() ports.Addresses
	VLANs() ports.VLANs
	Namespaces() ports.Namespaces
	Props() ports.LinkProps
	// NewNetns creates an empty network namespace, removed at test end.
	NewNetns(t *testing.T) domain.Netns
	// NewLink creates an Ethernet-like link named name in ns that reports
	// speed/duplex (a veth whose peer is parked elsewhere, or a fake), with
	// the given MTU (0 = default 1500), admin down. It is removed at test end.
	NewLink(t *testing.T, ns domain.Netns, name string, mtu int) domain.Link
	// DestroyNetns deletes a namespace as the runtime does when a pod dies;
	// physical links in it return to the host netns, virtual ones die.
	DestroyNetns(t *testing.T, ns domain.Netns)
}

// HarnessMaker builds a fresh harness for one test.
type HarnessMaker func(t *testing.T) Harness
