package domain

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
)

// A bond attachment may carry one VLAN: the interface named CNI_IFNAME is
// then an 8021q device on top of the bond, and IPAM's addresses go on it.
// One VLAN per attachment keeps the result unambiguous (one interface, the
// one the runtime named, with IPAM's addresses); several tagged networks
// over one bond are several attachments of the reference vlan plugin on
// top of it (README, "Tagged networks").

// MaxVLANID is the largest VLAN id (4095 is reserved by 802.1Q).
const MaxVLANID = 4094

// ErrNotVLAN is returned (wrapped) by a VLAN read when the named link exists
// but is not a VLAN device.
var ErrNotVLAN = errors.New("link is not a VLAN device")

// VLANProtocol is the tag's EtherType.
type VLANProtocol uint16

const (
	// VLAN8021Q is the customer tag (C-tag), the default.
	VLAN8021Q VLANProtocol = 0x8100
	// VLAN8021AD is the service tag (S-tag) of provider bridging (QinQ).
	VLAN8021AD VLANProtocol = 0x88a8
)

var vlanProtocolNames = []struct {
	name string
	val  VLANProtocol
}{{"802.1Q", VLAN8021Q}, {"802.1ad", VLAN8021AD}}

func (p VLANProtocol) String() string {
	for _, e := range vlanProtocolNames {
		if e.val == p {
			return e.name
		}
	}
	return fmt.Sprintf("0x%04x", uint16(p))
}

// ParseVLANProtocol reads "802.1Q" or "802.1ad" (any case).
func ParseVLANProtocol(s string) (VLANProtocol, bool) {
	for _, e := range vlanProtocolNames {
		if strings.EqualFold(e.name, s) {
			return e.val, true
		}
	}
	return 0, false
}

// VLANSpec is the VLAN device an attachment puts on its bond.
type VLANSpec struct {
	// Name is CNI_IFNAME.
	Name     string
	ID       int
	Protocol VLANProtocol
	// MTU of the VLAN device; 0 takes the bond's.
	MTU int
}

// VLANState is a VLAN device read back from the kernel.
type VLANState struct {
	Link       Link
	ID         int
	Protocol   VLANProtocol
	LowerIndex int // IFLA_LINK: the device the tags go out on
}

// bondSuffix is appended to CNI_IFNAME to name the bond under a VLAN.
const bondSuffix = "-bond"

// VLANBondName names the bond under the VLAN device named ifname: ifname
// with "-bond" appended ("net1" -> "net1-bond"), or, when that would not fit
// in 15 bytes, the first 6 bytes of ifname, "-" and 8 hex digits of a hash
// of the whole ifname, so two long ifnames sharing a prefix still get
// different names. The same ifname always gives the same name.
func VLANBondName(ifname string) string {
	if len(ifname)+len(bondSuffix) <= 15 {
		return ifname + bondSuffix
	}
	h := fnv.New32a()
	h.Write([]byte(ifname))
	return fmt.Sprintf("%s-%08x", ifname[:6], h.Sum32())
}

// IfName is the attachment's interface in the pod (CNI_IFNAME): the VLAN
// device when there is one, else the bond.
func (s BondSpec) IfName() string {
	if s.VLAN != nil {
		return s.VLAN.Name
	}
	return s.Name
}

// VLANDrift compares a live VLAN device with the spec: its id, protocol,
// MTU (wantMTU; the bond's when the spec has none), the device it sits on
// (bondIndex) and the mark this attachment put on it.
func VLANDrift(want VLANSpec, wantMTU, bondIndex int, alias string, got VLANState) []string {
	var d []string
	if got.Link.Alias != alias {
		d = append(d, fmt.Sprintf("link %s is not the VLAN device this attachment created", want.Name))
	}
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("vlan: want %d, kernel has %d", want.ID, got.ID))
	}
	if got.Protocol != want.Protocol {
		d = append(d, fmt.Sprintf("vlanProtocol: want %s, kernel has %s", want.Protocol, got.Protocol))
	}
	if want.MTU != 0 {
		wantMTU = want.MTU
	}
	if wantMTU != 0 && got.Link.MTU != wantMTU {
		d = append(d, fmt.Sprintf("vlanMtu: want %d, kernel has %d", wantMTU, got.Link.MTU))
	}
	if got.LowerIndex != bondIndex {
		d = append(d, fmt.Sprintf("%s: want it on the bond (ifindex %d), kernel has it on ifindex %d", want.Name, bondIndex, got.LowerIndex))
	}
	return d
}
