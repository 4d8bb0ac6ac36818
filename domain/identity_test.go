package domain_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/bondcni/bond/domain"
)

func TestMismatch(t *testing.T) {
	perm := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}
	rec := domain.LinkState{Name: "eth1", Index: 4, PodIndex: 7, PermMAC: perm.String()}
	same := domain.Link{Name: "eth1", Index: 7, PermMAC: perm}
	assert.Empty(t, rec.Mismatch(same, rec.IndexIn(false)))
	assert.Equal(t, "ifindex 4, recorded 7", rec.Mismatch(domain.Link{Index: 4, PermMAC: perm}, 7))
	assert.Equal(t, "ifindex 9, recorded 7, kind veth, recorded physical, permanent MAC none, recorded 52:54:00:00:00:01",
		rec.Mismatch(domain.Link{Index: 9, Kind: "veth", MAC: perm}, 7))
	assert.Empty(t, rec.Mismatch(domain.Link{Index: 9, PermMAC: perm}, 0), "index unknown (crashed ADD): kind and permanent MAC decide")
	assert.Equal(t, 4, rec.IndexIn(true), "an in-pod link's index is the recorded one")
	noPerm := domain.LinkState{Name: "net1", Index: 3, Kind: "veth"}
	assert.Empty(t, noPerm.Mismatch(domain.Link{Index: 3, Kind: "veth"}, 3))
	assert.Equal(t, "ifindex 5, recorded 3", noPerm.Mismatch(domain.Link{Index: 5, Kind: "veth"}, 3))
}

// A recorded device decides over the permanent MAC, which a VF driver
// rewrites when it resets the VF.
func TestMismatchByDevice(t *testing.T) {
	perm, other := net.HardwareAddr{0xca, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 1}
	rec := domain.LinkState{Name: "net1", Index: 4, PermMAC: perm.String(), Device: "pci/0000:3b:02.1"}
	assert.Empty(t, rec.Mismatch(domain.Link{Index: 4, PermMAC: other, Device: "pci/0000:3b:02.1"}, 4), "same VF, permanent MAC rewritten")
	assert.Equal(t, "device pci/0000:3b:02.2, recorded pci/0000:3b:02.1", rec.Mismatch(domain.Link{Index: 4, PermMAC: perm, Device: "pci/0000:3b:02.2"}, 4))
	assert.Equal(t, "kind veth, recorded physical, device none, recorded pci/0000:3b:02.1", rec.Mismatch(domain.Link{Index: 4, Kind: "veth", PermMAC: perm}, 4), "a link the pod made has no device")
}
