// Package kit builds the scenery of the real-kernel tests — network
// namespaces, veth pairs, bridges — and reads the kernel's own view of a
// bond (/proc/net/bonding) independently of the plugin's adapters, so the
// tests do not check the plugin with its own eyes only.
package kit

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NetnsDir holds the namespaces the tests create, as `ip netns` would.
const NetnsDir = "/run/netns"

var seq atomic.Uint64

// Available reports why the real-kernel tests cannot run here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	if _, err := os.Stat("/sys/module/bonding"); err != nil {
		return errors.New("bonding driver not loaded")
	}
	return nil
}

// Require skips the test unless the kernel can run it; in the VM lane
// (BOND_REAL_KERNEL=1) it fails instead, since a skip there proves nothing.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("BOND_REAL_KERNEL") == "1" {
			t.Fatalf("real kernel required: %v", err)
		}
		t.Skipf("real kernel required: %v", err)
	}
}

// onThreadIn runs fn on a locked OS thread switched into the namespace at
// path. The thread is discarded afterwards unless switching back worked.
func onThreadIn(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

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
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return "", err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		merr := unix.Mount(self, path, "", unix.MS_BIND, "")
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(merr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- merr
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
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
func DeleteNetns(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return errors.Join(err, rerr)
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

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

func linkByName(c *rtnetlink.Conn, name string) (rtnetlink.LinkMessage, error) {
	links, err := c.Link.List()
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l, nil
		}
	}
	return rtnetlink.LinkMessage{}, fmt.Errorf("link %q: %w", name, os.ErrNotExist)
}

// Link returns the link named name in the namespace at path.
func Link(path, name string) (rtnetlink.LinkMessage, error) {
	c, err := Dial(path)
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	defer c.Close()
	return linkByName(c, name)
}

// MustLink is Link that fails the test.
func MustLink(t testing.TB, path, name string) rtnetlink.LinkMessage {
	t.Helper()
	l, err := Link(path, name)
	if err != nil {
		t.Fatalf("link %q in %q: %v", name, path, err)
	}
	return l
}

// Links lists the names of every link in the namespace at path.
func Links(t testing.TB, path string) []string {
	t.Helper()
	c := mustDial(t, path)
	defer c.Close()
	links, err := c.Link.List()
	if err != nil {
		t.Fatalf("listing links: %v", err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attributes.Name)
	}
	return names
}

// Veth creates a veth pair: name in nsA, peer in nsB, both with mtu (0 =
// default) and given MACs (nil = random). The peer is set up so that the
// link's carrier follows its own admin state.
func Veth(t testing.TB, nsA, name string, mac net.HardwareAddr, nsB, peer string, mtu int) {
	t.Helper()
	c := mustDial(t, nsA)
	defer c.Close()
	fb, err := os.Open(nsB)
	if err != nil {
		t.Fatalf("opening %s: %v", nsB, err)
	}
	defer fb.Close()
	fd := uint32(fb.Fd())
	peerMsg := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: peer, MTU: uint32(mtu), NetNS: rtnetlink.NetNSForFD(fd)}}
	attrs := &rtnetlink.LinkAttributes{Name: name, MTU: uint32(mtu), Address: mac,
		Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{PeerInfo: peerMsg}}}
	if err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: attrs}); err != nil {
		t.Fatalf("creating veth %s/%s: %v", name, peer, err)
	}
	SetUp(t, nsB, peer, true)
}

// SetUp sets a link's admin state.
func SetUp(t testing.TB, ns, name string, up bool) {
	t.Helper()
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Flags: flags, Change: unix.IFF_UP})
	})
	if err != nil {
		t.Fatalf("setting %s up=%t: %v", name, up, err)
	}
}

// withLink dials the namespace at ns, looks the link up by name and runs
// fn with both; the connection is closed at once (it would keep the
// namespace alive).
func withLink(ns, name string, fn func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error) error {
	c, err := Dial(ns)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := linkByName(c, name)
	if err != nil {
		return err
	}
	return fn(c, l)
}

// Bridge creates an up bridge named name in ns and attaches links to it.
func Bridge(t testing.TB, ns, name string, ports ...string) {
	t.Helper()
	c := mustDial(t, ns)
	err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Flags: unix.IFF_UP, Change: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{Name: name, Info: &rtnetlink.LinkInfo{Kind: "bridge"}}})
	c.Close()
	if err != nil {
		t.Fatalf("creating bridge %s: %v", name, err)
	}
	for _, p := range ports {
		if err := setMaster(ns, p, name); err != nil {
			t.Fatalf("attaching %s to %s: %v", p, name, err)
		}
		SetUp(t, ns, p, true)
	}
}

// SetMTU sets a link's MTU.
func SetMTU(t testing.TB, ns, name string, mtu int) {
	t.Helper()
	err := withLink(ns, name, func(c *rtnetlink.Conn, l rtnetlink.LinkMessage) error {
		return c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{MTU: uint32(mtu)}})
	})
	if err != nil {
		t.Fatalf("setting %s mtu %d: %v", name, mtu, err)
	}
}

// ProcBonding returns /proc/net/bonding/<bond> as the kernel prints it for
// the namespace at ns.
func ProcBonding(ns, bond string) (string, error) {
	var out []byte
	err := onThreadIn(ns, func() error {
		var err error
		out, err = os.ReadFile("/proc/thread-self/net/bonding/" + bond)
		return err
	})
	return string(out), err
}

// BondField returns the value of the first "Key: value" line of
// /proc/net/bonding output.
func BondField(proc, key string) string {
	for _, line := range strings.Split(proc, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// BondSlaves returns the "Slave Interface" names of /proc/net/bonding output.
func BondSlaves(proc string) []string {
	var s []string
	for _, line := range strings.Split(proc, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Slave Interface" {
			s = append(s, strings.TrimSpace(v))
		}
	}
	return s
}

// SysfsBond reads /sys/class/net/<bond>/bonding/<option> inside ns, through
// a private sysfs mount (sysfs shows the namespace of whoever mounted it).
func SysfsBond(ns, bond, option string) (string, error) {
	var out []byte
	err := inPrivateSysfs(ns, func(sys string) error {
		var err error
		out, err = os.ReadFile(filepath.Join(sys, "class/net", bond, "bonding", option))
		return err
	})
	return strings.TrimSpace(string(out)), err
}

// SysfsLinkStat reads one of a link's counters, /sys/class/net/<link>/statistics/<stat>
// (rx_packets, tx_bytes, ...), in ns: the kernel's counters through sysfs,
// independently of rtnetlink.
func SysfsLinkStat(ns, link, stat string) (uint64, error) {
	var v uint64
	err := inPrivateSysfs(ns, func(sys string) error {
		b, err := os.ReadFile(filepath.Join(sys, "class/net", link, "statistics", stat))
		if err != nil {
			return err
		}
		v, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return err
	})
	return v, err
}

// inPrivateSysfs runs fn on a thread switched into ns with a fresh sysfs
// mounted in its own mount namespace; fn gets the mount point.
func inPrivateSysfs(ns string, fn func(sys string) error) error {
	errc := make(chan error, 1)
	go func() {
		// This thread's mount namespace is changed for good: never unlock it,
		// so the runtime discards it when the goroutine ends.
		runtime.LockOSThread()
		f, err := os.Open(ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- err
			return
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		dir, err := os.MkdirTemp("", "sysfs")
		if err != nil {
			errc <- err
			return
		}
		defer os.Remove(dir)
		if err := unix.Mount("sysfs", dir, "sysfs", 0, ""); err != nil {
			errc <- err
			return
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
		errc <- fn(dir)
	}()
	return <-errc
}

// LinkByIndex returns the link with ifindex index in the namespace at path.
func LinkByIndex(path string, index uint32) (rtnetlink.LinkMessage, error) {
	c, err := Dial(path)
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	defer c.Close()
	return c.Link.Get(index)
}

// WriteSysfsBond writes value to /sys/class/net/<bond>/bonding/<option>
// inside ns (through a private sysfs mount, as SysfsBond reads): the way
// the tests change a bond behind the plugin's back.
func WriteSysfsBond(ns, bond, option, value string) error {
	return inPrivateSysfs(ns, func(sys string) error {
		return os.WriteFile(filepath.Join(sys, "class/net", bond, "bonding", option), []byte(value), 0)
	})
}

// ProcSlave is one "Slave Interface" section of /proc/net/bonding output.
type ProcSlave struct {
	Name string
	// Fields are the section's "Key: value" lines (MII Status, Aggregator
	// ID, Permanent HW addr, …).
	Fields map[string]string
	// Actor and Partner are the 802.3ad "details actor lacp pdu" and
	// "details partner lacp pdu" blocks (system mac address, port state, …).
	Actor, Partner map[string]string
}

// ProcSlaves parses the slave sections of /proc/net/bonding output.
func ProcSlaves(proc string) []ProcSlave {
	var out []ProcSlave
	var cur *ProcSlave
	var sub map[string]string
	for _, line := range strings.Split(proc, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			sub = nil
			continue
		}
		k, v, ok := strings.Cut(trimmed, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case ok && k == "Slave Interface":
			out = append(out, ProcSlave{Name: v, Fields: map[string]string{}, Actor: map[string]string{}, Partner: map[string]string{}})
			cur, sub = &out[len(out)-1], nil
		case cur == nil:
		case k == "details actor lacp pdu":
			sub = cur.Actor
		case k == "details partner lacp pdu":
			sub = cur.Partner
		case ok && sub != nil && (line[0] == ' ' || line[0] == '\t'):
			sub[k] = v
		case ok:
			sub = nil
			if _, seen := cur.Fields[k]; !seen {
				cur.Fields[k] = v
			}
		}
	}
	return out
}

// AddAddress adds an address (CIDR) to a link and removes it at test end.
func AddAddress(t testing.TB, ns, name, cidr string) {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := addrChange(ns, name, p, true); err != nil {
		t.Fatalf("adding %s to %s: %v", cidr, name, err)
	}
	t.Cleanup(func() { _ = addrChange(ns, name, p, false) })
}

// AddDefaultRoute adds a default IPv4 route via gw through the link and
// removes it at test end.
func AddDefaultRoute(t testing.TB, ns, name, gw string) {
	t.Helper()
	l, err := Link(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	msg := &rtnetlink.RouteMessage{Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST,
		Attributes: rtnetlink.RouteAttributes{Gateway: net.ParseIP(gw).To4(), OutIface: l.Index}}
	c := mustDial(t, ns)
	defer c.Close()
	if err := c.Route.Add(msg); err != nil {
		t.Fatalf("adding default route via %s on %s: %v", gw, name, err)
	}
	t.Cleanup(func() {
		if c, err := Dial(ns); err == nil {
			_ = c.Route.Delete(msg)
			c.Close()
		}
	})
}
