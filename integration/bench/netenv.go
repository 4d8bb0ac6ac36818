package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/integration/kit"
)

// The scenery of the benchmark: pod namespaces with two veths each (the
// stand-ins for SR-IOV VFs that an earlier plugin put in the pod), their
// peers in one "switch" namespace, and the VM's two virtio NICs.

const (
	hostNIC1 = "eth1000"
	hostNIC2 = "eth1001"
)

// scenery creates and removes namespaces; everything it made is removed
// by cleanup, even after a failure.
type scenery struct {
	sw    string // the switch namespace holding every veth peer
	seq   int
	netns map[string]bool
}

func newScenery() (*scenery, error) {
	s := &scenery{netns: map[string]bool{}}
	sw, err := s.netnsNamed("bench-switch")
	if err != nil {
		return nil, err
	}
	s.sw = sw
	return s, nil
}

func (s *scenery) netnsNamed(name string) (string, error) {
	path, err := kit.CreateNetns(fmt.Sprintf("%s-%d", name, os.Getpid()))
	if err != nil {
		return "", err
	}
	s.netns[path] = true
	return path, nil
}

// pod creates a pod namespace holding two down veths, net1 and net2, whose
// peers are up in the switch namespace (so the links have carrier).
func (s *scenery) pod(prefix string) (string, error) {
	s.seq++
	ns, err := s.netnsNamed(fmt.Sprintf("%s%d", prefix, s.seq))
	if err != nil {
		return "", err
	}
	for i, name := range []string{"net1", "net2"} {
		if err := veth(ns, name, s.sw, fmt.Sprintf("p%d-%d", s.seq, i+1)); err != nil {
			return "", err
		}
	}
	return ns, nil
}

// emptyPod creates a pod namespace with only lo, for the host-NIC runs.
func (s *scenery) emptyPod(prefix string) (string, error) {
	s.seq++
	return s.netnsNamed(fmt.Sprintf("%s%d", prefix, s.seq))
}

// drop deletes a namespace now (its veths die with it; physical NICs the
// kernel would send back to the host, but a DEL has already returned them).
func (s *scenery) drop(ns string) error {
	delete(s.netns, ns)
	return kit.DeleteNetns(ns)
}

func (s *scenery) cleanup() error {
	var errs []error
	for ns := range s.netns {
		if err := s.drop(ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// veth creates peer, up, in nsB and its other end, name, down, in nsA, in
// one RTM_NEWLINK sent in nsB. (The flags of the peer part of the message
// cannot bring a veth up: the kernel opens it before the pair is linked.)
func veth(nsA, name, nsB, peer string) error {
	c, err := kit.Dial(nsB)
	if err != nil {
		return err
	}
	defer c.Close()
	fa, err := os.Open(nsA)
	if err != nil {
		return err
	}
	defer fa.Close()
	inPod := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: name, NetNS: rtnetlink.NetNSForFD(uint32(fa.Fd()))}}
	attrs := &rtnetlink.LinkAttributes{Name: peer, Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{PeerInfo: inPod}}}
	if err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Flags: unix.IFF_UP, Change: unix.IFF_UP, Attributes: attrs}); err != nil {
		return fmt.Errorf("creating veth %s (peer %s): %w", name, peer, err)
	}
	return nil
}

// fakeHost creates a namespace that stands in for a node's host netns:
// two veths, nic1 and nic2, whose peers are up in the switch namespace,
// and extra dummy links. A plugin started from a thread inside it takes it
// for its host.
func (s *scenery) fakeHost(name string, extra int) (string, error) {
	ns, err := s.netnsNamed(name)
	if err != nil {
		return "", err
	}
	s.seq++
	for i, nic := range []string{"nic1", "nic2"} {
		if err := veth(ns, nic, s.sw, fmt.Sprintf("h%d-%d", s.seq, i+1)); err != nil {
			return "", err
		}
	}
	c, err := kit.Dial(ns)
	if err != nil {
		return "", err
	}
	defer c.Close()
	for i := range extra {
		err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC,
			Attributes: &rtnetlink.LinkAttributes{Name: fmt.Sprintf("dummy%d", i), Info: &rtnetlink.LinkInfo{Kind: "dummy"}}})
		if err != nil {
			return "", fmt.Errorf("creating dummy %d in %s: %w", i, ns, err)
		}
	}
	return ns, nil
}

// linkCount counts the links of a namespace ("" = ours).
func linkCount(ns string) (int, error) {
	c, err := kit.Dial(ns)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msgs, err := c.Execute(&rtnetlink.LinkMessage{}, unix.RTM_GETLINK, netlink.Request|netlink.Dump)
	return len(msgs), err
}

// hostNICsHome tells whether both NICs are in the host namespace and not
// enslaved: what every host-NIC round must leave behind.
func hostNICsHome() error { return linksHome("", hostNIC1, hostNIC2) }

func linksHome(host string, names ...string) error {
	for _, n := range names {
		l, err := kit.Link(host, n)
		if err != nil {
			return fmt.Errorf("%s is not back in the host netns: %w", n, err)
		}
		if l.Attributes.Master != nil && *l.Attributes.Master != 0 {
			return fmt.Errorf("%s is still enslaved", n)
		}
	}
	return nil
}
