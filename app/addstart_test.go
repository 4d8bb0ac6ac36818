package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// IPAM ADD starts before the links are checked: the host-link safety
// check of the first link waits until IPAM ADD has begun, and fails if it
// had not.
type checksAfterIPAM struct {
	addresses // embedded under another name: Addresses is also a method
	entered   <-chan struct{}
}

type addresses = ports.Addresses

func (a checksAfterIPAM) CarriesDefaultRoute(ctx context.Context, ns domain.Netns, index int) (bool, error) {
	select {
	case <-a.entered:
	case <-time.After(5 * time.Second):
		return false, errors.New("the links were checked before IPAM ADD began")
	}
	return a.addresses.CarriesDefaultRoute(ctx, ns, index)
}

type enteringIPAM struct {
	ports.IPAM
	once    sync.Once
	entered chan struct{}
}

func (e *enteringIPAM) Add(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (domain.IPAMResult, error) {
	e.once.Do(func() { close(e.entered) })
	return e.IPAM.Add(ctx, plugin, conf, inv)
}

func TestIPAMAddStartsBeforeTheLinksAreChecked(t *testing.T) {
	w := newWorld(t)
	initial := w.state()
	ipam := &enteringIPAM{IPAM: w.ipam, entered: make(chan struct{})}
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: checksAfterIPAM{w.k, ipam.entered}, Namespaces: w.k, Props: w.k,
		IPAM: ipam, Store: w.store, Locks: w.locks})
	require.NoError(t, err)
	_, err = svc.Add(context.Background(), w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	require.NoError(t, svc.Del(context.Background(), w.req(hostBondConf, "c1")))
	assert.Equal(t, initial, w.state())
}

// onMessage is a slog handler that closes ch when a record with msg is
// logged.
type onMessage struct {
	msg  string
	once sync.Once
	ch   chan struct{}
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }

// Checking the links or planning refuses the ADD while IPAM ADD, started before,
// is still running: ADD waits for it, releases the address and forgets
// the record, and reports the refusal.
func TestRefusalWhileIPAMAddInFlightReleasesTheAddress(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conf  string
		setup func(w *world)
		code  domain.Code
		says  string
	}{
		{"host link has an address", hostBondConf, func(w *world) {
			w.k.AddAddress(domain.HostNetns, "eth1001", netip.MustParsePrefix("192.0.2.7/24"))
		}, domain.CodeUnsafeHostLink, "has the host address 192.0.2.7/24"},
		{"link is a master", strings.Replace(hostBondConf, `"eth1001"`, `"hostbond"`, 1), func(w *world) {
			w.k.AddVirtual(domain.HostNetns, "bridge", "hostbond", 1500, net.HardwareAddr{0x52, 0x54, 0, 0, 0x20, 1})
		}, domain.CodeLinkBusy, "is itself a master"},
		{"mtu out of range", strings.Replace(hostBondConf, `"miimon":"100"`, `"miimon":"100","mtu":9000`, 1), func(w *world) {
			w.k.SetMaxMTU(domain.HostNetns, "eth1001", 1500)
		}, domain.CodeLinkUnusable, "MTU range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			initial := w.state()
			g := newGatedIPAM(w.ipam)
			h := &onMessage{msg: "ADD refused after its first steps; undoing them", ch: make(chan struct{})}
			go func() {
				<-h.ch
				close(g.gate) // IPAM ADD completes only after the refusal
			}()
			_, err := w.serviceWith(g, slog.New(h), nil).Add(context.Background(), w.req(tc.conf, "c1"))
			require.Error(t, err)
			assert.Equal(t, tc.code, domain.CodeOf(err, 0), "%v", err)
			assert.Contains(t, err.Error(), tc.says)
			assert.Equal(t, []string{"ADD c1/net1", "DEL c1/net1"}, w.ipam.Calls())
			assert.Equal(t, initial, w.state())
		})
	}
}

// IPAM ADD fails while the links are being checked, and the checks refuse
// the ADD too: the refusal is reported with IPAM's failure beside it, and
// nothing is left.
func TestRefusalAndIPAMFailureTogether(t *testing.T) {
	w := newWorld(t)
	w.k.AddAddress(domain.HostNetns, "eth1001", netip.MustParsePrefix("192.0.2.7/24"))
	initial := w.state()
	g := newGatedIPAM(w.ipam)
	w.ipam.FailOn("Add", 1, errors.New("injected IPAM fault"))
	close(g.gate)
	h := &onMessage{msg: "ADD refused after its first steps; undoing them", ch: make(chan struct{})}
	// The refusal waits for IPAM's failure, so both are known when ADD
	// reports.
	checks := checksAfterIPAM{w.k, g.returned}
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: checks, Namespaces: w.k, Props: w.k,
		IPAM: g, Store: w.store, Locks: w.locks, Log: slog.New(h)})
	require.NoError(t, err)
	_, err = svc.Add(context.Background(), w.req(hostBondConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeUnsafeHostLink, domain.CodeOf(err, 0), "%v", err)
	assert.Contains(t, err.Error(), "ipam-add beside it failed too")
	assert.Equal(t, initial, w.state())
}

// What refuses the config itself comes before IPAM is asked: a link that
// is not there, a host link the node admin does not offer.
func TestConfigRefusalsNeverReachIPAM(t *testing.T) {
	for _, tc := range []struct {
		name string
		node domain.NodePolicy
		conf string
		code domain.Code
	}{
		{"link not found", domain.NodePolicy{}, strings.Replace(hostBondConf, `"eth1001"`, `"eth9"`, 1), domain.CodeLinkNotFound},
		{"host link not offered", domain.NodePolicy{RestrictHostLinks: true, HostLinks: []string{"eth1000"}}, hostBondConf, domain.CodeInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.node = tc.node
			initial := w.state()
			_, err := w.service(nil).Add(context.Background(), w.req(tc.conf, "c1"))
			require.Error(t, err)
			assert.Equal(t, tc.code, domain.CodeOf(err, 0), "%v", err)
			assert.Empty(t, w.ipam.Calls())
			assert.Equal(t, initial, w.state())
		})
	}
}

// A CNI_IFNAME already in the pod is refused before IPAM is asked: an
// IPAM DEL under the same container ID and ifname would release the
// addresses of whatever holds that name.
func TestTakenIfnameNeverReachesIPAM(t *testing.T) {
	w := newWorld(t)
	w.k.AddVirtual(w.pod, "dummy", "net1", 1500, net.HardwareAddr{0x52, 0x54, 0, 0, 0x30, 1})
	initial := w.state()
	_, err := w.svc.Add(context.Background(), w.req(hostBondConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeIfnameExists, domain.CodeOf(err, 0), "%v", err)
	assert.Empty(t, w.ipam.Calls())
	assert.Equal(t, initial, w.state())
}

// The record written before IPAM ADD fails to save: nothing else runs.
func TestFirstRecordFailureStopsBeforeIPAM(t *testing.T) {
	w := newWorld(t)
	initial := w.state()
	w.store.FailOn("Save", 1, errors.New("injected store fault"))
	_, err := w.svc.Add(context.Background(), w.req(hostBondConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeIOFailure, domain.CodeOf(err, 0), "%v", err)
	assert.Empty(t, w.ipam.Calls())
	assert.Equal(t, initial, w.state())
}
