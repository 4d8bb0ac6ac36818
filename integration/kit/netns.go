package kit

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/netns/netnstest"
	"github.com/bondcni/bond/domain"
)

// NetnsDir holds the namespaces the tests create, as `ip netns` would.
const NetnsDir = "/run/netns"

var seq atomic.Uint64

// NewNetns creates a named network namespace under /run/netns and returns
// its path; it is deleted at the end of the test unless already gone.
func NewNetns(t testing.TB, prefix string) string {
	t.Helper()
	path, err := CreateNetns(fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1)))
	if err != nil {
		t.Fatalf("creating netns: %v", err)
	}
	t.Cleanup(func() { _ = DeleteNetns(path) })
	return path
}

// CreateNetns creates /run/netns/name holding a new network namespace.
func CreateNetns(name string) (string, error) {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(NetnsDir, name)
	if err := netnstest.Create(path); err != nil {
		return "", fmt.Errorf("creating netns %s: %w", path, err)
	}
	// Bring lo up, as a container runtime does.
	c, err := Dial(path)
	if err == nil {
		defer c.Close()
		if lo, err := linkByName(c, "lo"); err == nil {
			_ = c.Link.Set(&rtnetlink.LinkMessage{Index: lo.Index, Flags: unix.IFF_UP, Change: unix.IFF_UP})
		}
	}
	return path, nil
}

// DeleteNetns unmounts and removes a namespace file, as `ip netns del`
// does: the namespace dies once nothing else holds it, and the kernel sends
// its physical links back to the host netns.
func DeleteNetns(path string) error { return netnstest.Destroy(path) }

// Dial opens an rtnetlink connection in the namespace at path ("" = ours).
func Dial(path string) (*rtnetlink.Conn, error) {
	cfg := &netlink.Config{Strict: true}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cfg.NetNS = int(f.Fd())
	}
	return rtnetlink.Dial(cfg)
}

// mustDial is Dial that fails the test. The caller closes the connection
// at once after use: an open socket keeps its namespace alive, and tests
// that destroy namespaces depend on them dying.
func mustDial(t testing.TB, path string) *rtnetlink.Conn {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatalf("dial netns %q: %v", path, err)
	}
	return c
}

// dialRoute opens a strict rtnetlink socket in the netns at path (""
// means this process's netns as a fresh locked thread sees it).
func dialRoute(path string) (*netlink.Conn, error) {
	f, err := netns.Open(domain.Netns(path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(f.Fd()), Strict: true})
}
