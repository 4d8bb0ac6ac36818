package kit

import (
	"encoding/binary"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Rename renames a (down) link in ns, as a process with NET_ADMIN in a pod
// could.
func Rename(t testing.TB, ns, name, newName string) {
	t.Helper()
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Name: newName}})
	})
	if err != nil {
		t.Fatalf("renaming %s to %s: %v", name, newName, err)
	}
}

// DeleteLink deletes a link in ns.
func DeleteLink(t testing.TB, ns, name string) {
	t.Helper()
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Delete(l.Index)
	})
	if err != nil {
		t.Fatalf("deleting %s: %v", name, err)
	}
}

// AltName gives a link in ns an alternative name (as udev's
// AlternativeNamesPolicy does on real nodes), removed when the test ends.
// The kernel resolves a lookup by name through alternative names too.
func AltName(t testing.TB, ns, name, alt string) {
	t.Helper()
	index := MustLink(t, ns, name).Index
	prop := func(typ netlink.HeaderType) error {
		ae := netlink.NewAttributeEncoder()
		ae.Nested(unix.IFLA_PROP_LIST, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_ALT_IFNAME, alt)
			return nil
		})
		attrs, err := ae.Encode()
		if err != nil {
			return err
		}
		ifi := make([]byte, unix.SizeofIfInfomsg)
		binary.NativeEndian.PutUint32(ifi[4:], index)
		c, err := dialRoute(ns)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Acknowledge}, Data: append(ifi, attrs...)})
		return err
	}
	if err := prop(unix.RTM_NEWLINKPROP); err != nil {
		t.Fatalf("adding altname %s to %s: %v", alt, name, err)
	}
	t.Cleanup(func() { _ = prop(unix.RTM_DELLINKPROP) })
}
