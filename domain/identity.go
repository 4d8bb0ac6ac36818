package domain

import (
	"fmt"
	"strings"
)

// Mismatch tells how l, found where the recorded link should be, differs
// from the recorded device; "" means it is the same device. index is the
// ifindex the link must have there (0 when not recorded). Names prove
// nothing: a process with NET_ADMIN in the pod can rename the real NIC and
// create another link under its name, and DEL must not move that one to
// the host with the NIC's settings. So the ifindex, the kind and the
// device must match: its parent device where one was recorded (a bus
// address no process can give a link it creates; a VF driver rewrites its
// permanent MAC whenever it resets the VF, igbvf to the MAC its PF holds,
// and enslaving resets it), else the permanent MAC where the driver has
// one.
func (s LinkState) Mismatch(l Link, index int) string {
	var d []string
	if index != 0 && l.Index != index {
		d = append(d, fmt.Sprintf("ifindex %d, recorded %d", l.Index, index))
	}
	if l.Kind != s.Kind {
		d = append(d, fmt.Sprintf("kind %s, recorded %s", deviceKind(l.Kind), deviceKind(s.Kind)))
	}
	if s.Device != "" {
		if l.Device != s.Device {
			d = append(d, fmt.Sprintf("device %s, recorded %s", deviceName(l.Device), s.Device))
		}
	} else if s.PermMAC != "" {
		now := "none"
		if l.PermMAC != nil {
			now = l.PermMAC.String()
		}
		if now != s.PermMAC {
			d = append(d, fmt.Sprintf("permanent MAC %s, recorded %s", now, s.PermMAC))
		}
	}
	return strings.Join(d, ", ")
}

// IndexIn is the ifindex the recorded link has in the pod: PodIndex for a
// host link ADD moved there, Index for a link that was in the pod already.
func (s LinkState) IndexIn(linksInContainer bool) int {
	if linksInContainer {
		return s.Index
	}
	return s.PodIndex
}

func deviceName(d string) string {
	if d == "" {
		return "none"
	}
	return d
}

func deviceKind(k string) string {
	if k == "" {
		return "physical"
	}
	return k
}
