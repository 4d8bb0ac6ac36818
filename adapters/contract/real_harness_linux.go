//go:build linux

package contract

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/ethtool"
	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/netns/netnstest"
	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// realHarness runs the suites against the real adapters on the running
// kernel. Links are veth pairs whose peers sit, up, in a per-harness
// "switch" namespace, so a link gets carrier when it is set up and reports
// speed/duplex (10000/full) as bonding needs. It needs root.
type realHarness struct {
	rt *nlkernel.Adapter
	sw domain.Netns

	mu    sync.Mutex
	peers map[uint32]bool // ifindexes of the peers in sw
}

// NewRealHarness returns a harness on the real kernel, skipping the test
// when not run as root. Bond tests should also check RealKernelAvailable.
func NewRealHarness(t *testing.T) Harness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real kernel harness needs root")
	}
	h := &realHarness{rt: nlkernel.New(), peers: map[uint32]bool{}}
	t.Cleanup(func() {
		if err := h.rt.Close(); err != nil {
			t.Errorf("closing rtnetlink adapter: %v", err)
		}
	})
	h.sw = h.NewNetns(t) // destroyed last: its peers take the remaining veths with them
	return h
}

func (h *realHarness) Links() ports.Links           { return h.rt }
func (h *realHarness) Bonds() ports.Bonds           { return h.rt }
func (h *realHarness) Addresses() ports.Addresses   { return h.rt }
func (h *realHarness) VLANs() ports.VLANs           { return h.rt }
func (h *realHarness) Namespaces() ports.Namespaces { return netns.Checker{} }
func (h *realHarness) Props() ports.LinkProps       { return ethtool.Props{} }

// NewNetns creates a namespace bind-mounted under the test's temporary
// directory, destroyed at test end.
func (h *realHarness) NewNetns(t *testing.T) domain.Netns {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := netnstest.Create(path); err != nil {
		t.Fatalf("creating netns: %v", err)
	}
	ns := domain.Netns(path)
	t.Cleanup(func() { h.destroy(t, ns) })
	return ns
}

// DestroyNetns deletes the namespace as a runtime does when a pod dies and
// waits until the veths that were in it are gone.
func (h *realHarness) DestroyNetns(t *testing.T, ns domain.Netns) {
	t.Helper()
	h.destroy(t, ns)
}

func (h *realHarness) destroy(t *testing.T, ns domain.Netns) {
	t.Helper()
	if _, err := os.Stat(string(ns)); errors.Is(err, os.ErrNotExist) {
		return
	}
	// Peers (in sw) of the veths still in ns: they die with the namespace.
	var dying []uint32
	if ns != h.sw {
		err := withConn(ns, func(c *rtnetlink.Conn) error {
			links, err := c.Link.List()
			for _, l := range links {
				if l.Attributes != nil && l.Attributes.Info != nil && l.Attributes.Info.Kind == "veth" && h.isPeer(l.Attributes.Type) {
					dying = append(dying, l.Attributes.Type) // IFLA_LINK: the peer's ifindex
				}
			}
			return err
		})
		if err != nil {
			t.Errorf("listing links of %s before destroying it: %v", ns, err)
		}
	}
	// Sockets hold their namespace: drop the adapter's.
	if err := h.rt.Forget(ns); err != nil {
		t.Errorf("closing the adapter's socket in %s: %v", ns, err)
	}
	if err := netnstest.Destroy(string(ns)); err != nil {
		t.Errorf("destroying %s: %v", ns, err)
		return
	}
	// The kernel dismantles a namespace asynchronously.
	deadline := time.Now().Add(10 * time.Second)
	for _, idx := range dying {
		for h.linkExists(h.sw, idx) {
			if time.Now().After(deadline) {
				t.Errorf("veth peer ifindex %d still exists 10s after %s was destroyed", idx, ns)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		h.mu.Lock()
		delete(h.peers, idx)
		h.mu.Unlock()
	}
}

func (h *realHarness) isPeer(idx uint32) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[idx]
}

func (h *realHarness) linkExists(ns domain.Netns, idx uint32) bool {
	err := withConn(ns, func(c *rtnetlink.Conn) error {
		_, err := c.Link.Get(idx)
		return err
	})
	return err == nil
}

// NewLink creates a veth named name in ns with its peer, up, in the switch
// namespace; both ends get mtu. The link is left down. Deleting the peer at
// test end removes the pair wherever the link has gone.
func (h *realHarness) NewLink(t *testing.T, ns domain.Netns, name string, mtu int) domain.Link {
	t.Helper()
	peer := "p" + randomHex(6)
	sw, err := netns.Open(h.sw)
	if err != nil {
		t.Fatalf("opening the switch netns: %v", err)
	}
	defer sw.Close()
	err = withConn(ns, func(c *rtnetlink.Conn) error {
		return c.Link.New(&rtnetlink.LinkMessage{
			Attributes: &rtnetlink.LinkAttributes{
				Name: name,
				MTU:  uint32(mtu),
				Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{PeerInfo: &rtnetlink.LinkMessage{
					Attributes: &rtnetlink.LinkAttributes{
						Name:  peer,
						MTU:   uint32(mtu),
						NetNS: rtnetlink.NetNSForFD(uint32(sw.Fd())),
					},
				}}},
			},
		})
	})
	if err != nil {
		t.Fatalf("creating veth %s (peer %s) in %s: %v", name, peer, ns, err)
	}
	var peerIdx uint32
	err = withConn(h.sw, func(c *rtnetlink.Conn) error {
		m, err := getByName(c, peer)
		if err != nil {
			return err
		}
		peerIdx = m.Index
		return c.Link.Set(&rtnetlink.LinkMessage{Index: m.Index, Flags: unix.IFF_UP, Change: unix.IFF_UP})
	})
	if err != nil {
		t.Fatalf("setting veth peer %s up: %v", peer, err)
	}
	h.mu.Lock()
	h.peers[peerIdx] = true
	h.mu.Unlock()
	t.Cleanup(func() {
		if _, err := os.Stat(string(h.sw)); err != nil {
			return
		}
		err := withConn(h.sw, func(c *rtnetlink.Conn) error { return c.Link.Delete(peerIdx) })
		if err != nil && !errors.Is(err, unix.ENODEV) {
			t.Errorf("deleting veth peer %s: %v", peer, err)
		}
	})
	l, err := h.rt.Link(context.Background(), ns, name)
	if err != nil {
		t.Fatalf("reading veth %s back: %v", name, err)
	}
	return l
}

// withConn runs fn with a short-lived rtnetlink socket in ns, so the
// harness itself never keeps a namespace alive.
func withConn(ns domain.Netns, fn func(c *rtnetlink.Conn) error) error {
	f, err := netns.Open(ns)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(f.Fd()), Strict: true})
	if err != nil {
		return fmt.Errorf("dialing rtnetlink in %s: %w", ns, err)
	}
	defer c.Close()
	return fn(c)
}

func getByName(c *rtnetlink.Conn, name string) (*rtnetlink.LinkMessage, error) {
	msgs, err := c.Execute(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: name}}, unix.RTM_GETLINK, netlink.Request)
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", name, err)
	}
	for _, m := range msgs {
		if lm, ok := m.(*rtnetlink.LinkMessage); ok {
			return lm, nil
		}
	}
	return nil, fmt.Errorf("looking up %s: %w", name, unix.ENODEV)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

var (
	realKernelOnce sync.Once
	realKernelErr  error
)

// RealKernelAvailable returns nil if the real-kernel suites can run here:
// root, network namespaces, veth and the bonding driver (a bond is created
// in a throwaway namespace). Otherwise it returns the reason to skip.
func RealKernelAvailable() error {
	realKernelOnce.Do(func() { realKernelErr = probeKernel() })
	return realKernelErr
}

func probeKernel() error {
	if os.Geteuid() != 0 {
		return errors.New("real kernel tests need root")
	}
	dir, err := os.MkdirTemp("", "bond-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "netns")
	if err := netnstest.Create(path); err != nil {
		return fmt.Errorf("cannot create network namespaces: %w", err)
	}
	defer netnstest.Destroy(path)
	return withConn(domain.Netns(path), func(c *rtnetlink.Conn) error {
		veth := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{
			Name: "probe0",
			Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{PeerInfo: &rtnetlink.LinkMessage{
				Attributes: &rtnetlink.LinkAttributes{Name: "probe1"},
			}}},
		}}
		if err := c.Link.New(veth); err != nil {
			return fmt.Errorf("veth driver not available: %w", err)
		}
		bond := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{
			Name: "probe2",
			Info: &rtnetlink.LinkInfo{Kind: "bond", Data: &driver.Bond{Mode: driver.BondModeActiveBackup}},
		}}
		if err := c.Link.New(bond); err != nil {
			return fmt.Errorf("bonding driver not available: %w", err)
		}
		return nil
	})
}
