package kit

import (
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
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
