package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// world is a node in memory: two physical host NICs, a pod netns, IPAM,
// records and locks, and the use cases wired to them.
type world struct {
	t     testing.TB
	k     *memory.Kernel
	ipam  *memory.IPAM
	store *memory.Store
	locks *memory.Locks
	svc   *app.Service
	pod   domain.Netns
	node  domain.NodePolicy
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, k: memory.NewKernel(), ipam: memory.NewIPAM("10.10.20.0/24"), store: memory.NewStore(), locks: memory.NewLocks()}
	w.pod = w.k.AddNetns("/run/netns/pod")
	for i, name := range []string{"eth1000", "eth1001"} {
		w.k.AddPhysical(domain.HostNetns, name, 1500, net.HardwareAddr{0x52, 0x54, 0, 0, 0x10, byte(i)})
		w.k.SetSpeed(domain.HostNetns, name, 10000, "full")
	}
	w.k.SetAdminUp(domain.HostNetns, "eth1001", true)
	w.svc = w.service(nil)
	return w
}

func (w *world) service(before func(domain.Step)) *app.Service {
	return w.serviceWith(w.ipam, nil, before)
}

// serviceWith is service with another IPAM and a logger (nil: discard).
func (w *world) serviceWith(ipam ports.IPAM, log *slog.Logger, before func(domain.Step)) *app.Service {
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
		IPAM: ipam, Store: w.store, Locks: w.locks, Log: log, BeforeStep: before, Node: w.node})
	require.NoError(w.t, err)
	return svc
}

// state is everything ADD may change on the node.
func (w *world) state() string {
	return fmt.Sprintf("%s\nipam=%v\nrecords=%d\nlocks=%d", w.k.Snapshot(), w.ipam.Allocations(), w.store.Len(), w.locks.Held())
}

const hostBondConf = `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100",
"failOverMac":1,"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"host-local"},
"kubernetes":{"kubeconfig":"/x"},"datastore_type":"kubernetes"}`

func (w *world) req(conf, ctr string) app.Request {
	return app.Request{Invocation: ports.Invocation{ContainerID: ctr, Netns: w.pod, IfName: "net1", Path: "/opt/cni/bin",
		Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1"}, Config: []byte(conf)}
}

func TestAddThenDelRestoresTheNode(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()

	res, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	require.Len(t, res.Interfaces, 1)
	assert.Equal(t, "net1", res.Interfaces[0].Name)
	assert.Equal(t, string(w.pod), res.Interfaces[0].Sandbox)
	bond, err := w.k.Bond(ctx, w.pod, "net1")
	require.NoError(t, err)
	assert.Len(t, bond.Slaves, 2)
	assert.Equal(t, res.Interfaces[0].MAC, bond.Link.MAC.String())
	assert.Equal(t, string(hostBondConf), string(w.ipam.LastConf()), "IPAM gets the whole config unchanged")
	_, onHost := w.k.Peek(domain.HostNetns, "eth1000")
	assert.False(t, onHost)

	require.NoError(t, w.svc.Check(ctx, w.req(hostBondConf, "c1")))
	require.NoError(t, w.svc.Del(ctx, w.req(hostBondConf, "c1")))
	assert.Equal(t, initial, w.state())
	require.NoError(t, w.svc.Del(ctx, w.req(hostBondConf, "c1")), "DEL twice")
	assert.Equal(t, initial, w.state())
}

// Fail every step of ADD in turn: the node equals its initial state after
// each failure — links, names, MTUs, MACs, admin state, IPAM, records.
func TestFailEveryAddStepLeavesTheNodeAsFound(t *testing.T) {
	ctx := context.Background()
	injected := 0
	for k := 0; ; k++ {
		w := newWorld(t)
		initial := w.state()
		w.k.FailAfter(k, errors.New("injected kernel fault"))
		_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
		if err == nil {
			require.Positive(t, k, "ADD must touch the kernel")
			break
		}
		injected++
		w.k.ClearFaults()
		assert.Equal(t, initial, w.state(), "kernel fault at mutating op %d: %v", k, err)
	}
	for _, f := range []struct{ op string }{{"Add"}} {
		w := newWorld(t)
		initial := w.state()
		w.ipam.FailOn(f.op, 1, errors.New("injected IPAM fault"))
		_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
		require.Error(t, err)
		assert.Equal(t, initial, w.state(), "IPAM %s fault", f.op)
		injected++
	}
	for nth := 1; nth <= 2; nth++ {
		w := newWorld(t)
		initial := w.state()
		w.store.FailOn("Save", nth, errors.New("injected disk fault"))
		_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
		require.Error(t, err)
		w.store.ClearFaults()
		assert.Equal(t, initial, w.state(), "record save %d fault", nth)
		injected++
	}
	t.Logf("FIGURE memory-add-faults-injected=%d", injected)
}

// DEL failing at step k: a second DEL completes the job.
func TestFailEveryDelStepThenDelAgainCompletes(t *testing.T) {
	ctx := context.Background()
	for k := 0; ; k++ {
		w := newWorld(t)
		initial := w.state()
		_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
		require.NoError(t, err)
		w.k.FailAfter(k, errors.New("injected kernel fault"))
		err = w.svc.Del(ctx, w.req(hostBondConf, "c1"))
		w.k.ClearFaults()
		if err == nil {
			assert.Equal(t, initial, w.state())
			require.Positive(t, k)
			break
		}
		require.NoError(t, w.svc.Del(ctx, w.req(hostBondConf, "c1")), "second DEL after a fault at op %d", k)
		assert.Equal(t, initial, w.state(), "after a fault at op %d and a second DEL", k)
	}
}

var errCrash = errors.New("simulated crash")

// The plugin dies before each step of ADD (no undo runs); the DEL the
// runtime sends next, from a new process, leaves the node as before.
func TestCrashBeforeEveryAddStepThenDel(t *testing.T) {
	ctx := context.Background()
	probe := newWorld(t)
	var mu sync.Mutex // IPAM ADD's hook runs on its own goroutine
	var steps []string
	_, err := probe.service(func(s domain.Step) { mu.Lock(); steps = append(steps, s.String()); mu.Unlock() }).Add(ctx, probe.req(hostBondConf, "c1"))
	require.NoError(t, err)
	require.Greater(t, len(steps), 5)
	for _, at := range steps {
		t.Run(strings.ReplaceAll(at, " ", "_"), func(t *testing.T) { crashBeforeStepThenDel(t, hostBondConf, at) })
	}
}

// crashBeforeStepThenDel runs an ADD of conf that dies before the step at,
// then a DEL from a fresh process, and requires the node as it was.
func crashBeforeStepThenDel(t *testing.T, conf, at string) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	crashing := w.service(func(s domain.Step) {
		if s.String() == at {
			panic(errCrash)
		}
	})
	func() {
		defer func() {
			r := recover()
			require.Equal(t, errCrash, r)
		}()
		_, _ = crashing.Add(ctx, w.req(conf, "c1"))
	}()
	// A crashed process leaves its locks to the kernel; here, to the
	// fresh lock set of the next process.
	w.locks = memory.NewLocks()
	require.NoError(t, w.service(nil).Del(ctx, w.req(conf, "c1")))
	assert.Equal(t, strings.Replace(initial, "locks=0", "", 1), strings.Replace(w.state(), "locks=0", "", 1))
}

func TestDelWithPodNetnsGoneReturnsRenamedNIC(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	// A squatter takes eth1000's name on the host; the pod netns dies.
	squat := w.k.AddVirtual(domain.HostNetns, "dummy", "eth1000", 1500, nil)
	w.k.DestroyNetns(w.pod)
	_, back := w.k.Peek(domain.HostNetns, "eth1001")
	require.True(t, back, "physical NICs return to the host")
	require.NoError(t, w.k.Delete(ctx, domain.HostNetns, squat.Index))
	require.NoError(t, w.svc.Del(ctx, w.req(hostBondConf, "c1")))
	w.pod = w.k.AddNetns("/run/netns/pod") // the initial snapshot had it
	assert.Equal(t, initial, w.state())
}

func TestRacingAddsForTheSameHostNICs(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	podB := w.k.AddNetns("/run/netns/podB")
	reqB := w.req(hostBondConf, "c2")
	reqB.Netns = podB
	errs := make(chan error, 2)
	go func() { _, err := w.svc.Add(ctx, w.req(hostBondConf, "c1")); errs <- err }()
	go func() { _, err := w.svc.Add(ctx, reqB); errs <- err }()
	e1, e2 := <-errs, <-errs
	require.True(t, (e1 == nil) != (e2 == nil), "exactly one wins: %v / %v", e1, e2)
	lost := e1
	if lost == nil {
		lost = e2
	}
	assert.Contains(t, lost.Error(), "eth1000")
	assert.Contains(t, lost.Error(), "held by another attachment")
	assert.NotContains(t, lost.Error(), "container ", "the loser's error must not name the winner")
	assert.Equal(t, domain.CodeLinkBusy, domain.CodeOf(lost, 0))
}

func TestLockTimeoutIsTryAgainLater(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	release, err := w.locks.Claim(ctx, []string{"eth1001"}, "container other")
	require.NoError(t, err)
	defer release()
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
		IPAM: w.ipam, Store: w.store, Locks: w.locks, LockWait: 20 * time.Millisecond})
	require.NoError(t, err)
	before := w.state()
	_, err = svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeTryAgainLater, domain.CodeOf(err, 0))
	assert.Contains(t, err.Error(), `"eth1001" is held by another attachment`)
	assert.NotContains(t, err.Error(), "container other", "the holder goes to the log, not to this pod's events")
	release()
	assert.Equal(t, strings.Replace(before, "locks=1", "locks=0", 1), w.state())
}

func TestGCCleansUnlistedAttachments(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "stale"))
	require.NoError(t, err)
	gc := strings.Replace(hostBondConf, `"name":"bond0"`, `"name":"bond0","cni.dev/valid-attachments":[{"containerID":"other","ifname":"net1"}]`, 1)
	require.NoError(t, w.svc.GC(ctx, app.Request{Config: []byte(gc)}))
	assert.Equal(t, initial, w.state())
}

func TestStatusAsksIPAM(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.svc.Status(context.Background(), w.req(hostBondConf, "")))
	w.ipam.FailOn("Status", 1, errors.New("not ready"))
	err := w.svc.Status(context.Background(), w.req(hostBondConf, ""))
	require.Error(t, err)
	assert.Equal(t, domain.CodeNotAvailable, domain.CodeOf(err, 0))
}

func TestUnsafeHostLinksRefusedUnlessOptedIn(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(w *world){
		"global address": func(w *world) {
			w.k.AddAddress(domain.HostNetns, "eth1000", netip.MustParsePrefix("192.0.2.10/24"))
		},
		"default route": func(w *world) {
			w.k.SetAdminUp(domain.HostNetns, "eth1001", true)
			w.k.AddRoute(domain.HostNetns, "eth1001", domain.Route{Dst: netip.MustParsePrefix("::/0")})
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			setup(w)
			before := w.state()
			_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
			require.Error(t, err)
			assert.Equal(t, domain.CodeUnsafeHostLink, domain.CodeOf(err, 0), err.Error())
			assert.Contains(t, err.Error(), "allowUnsafeHostLinks")
			assert.Equal(t, before, w.state(), "nothing changed")

			optIn := strings.Replace(hostBondConf, `"failOverMac":1,`, `"failOverMac":1,"allowUnsafeHostLinks":true,`, 1)
			_, err = w.svc.Add(ctx, w.req(optIn, "c1"))
			require.Error(t, err, "the config alone cannot switch the node's safety check off")
			assert.Equal(t, domain.CodeInvalidConfig, domain.CodeOf(err, 0), err.Error())
			assert.Contains(t, err.Error(), "node admin must set")
			assert.Equal(t, before, w.state(), "nothing changed")

			w.node = domain.NodePolicy{Source: "/etc/cni/bond.d/node.json", AllowUnsafeHostLinks: true}
			w.svc = w.service(nil)
			_, err = w.svc.Add(ctx, w.req(optIn, "c1"))
			require.NoError(t, err, "the explicit opt-in takes the link where the node admin allows it")
		})
	}
}

// strayNIC adds the host-bond attachment c1, then kills its pod netns with
// eth1000 not back on the host yet (as while the kernel's netns cleanup has
// not run): the NIC waits in a netns out of DEL's reach. It returns that
// netns and the NIC's ifindex there.
func strayNIC(t *testing.T, w *world) (domain.Netns, int) {
	t.Helper()
	ctx := context.Background()
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	l, ok := w.k.Peek(w.pod, "eth1000")
	require.True(t, ok)
	w.k.DestroyNetns(w.pod)
	back, ok := w.k.Peek(domain.HostNetns, "eth1000")
	require.True(t, ok)
	require.Equal(t, l.Index, back.Index)
	limbo := w.k.AddNetns("/run/netns/limbo")
	away, err := w.k.Move(ctx, domain.HostNetns, back.Index, limbo, "eth1000")
	require.NoError(t, err)
	return limbo, away.Index
}

// A physical NIC that the kernel has not handed back yet must not keep the
// pod Terminating: DEL succeeds after a bounded wait and keeps the record,
// so GC can restore the NIC later. The wait runs on Deps.Clock alone: a
// clock that moves only when waited on ends it after exactly ReturnWait of
// its own time, in no real time (a wait that also read the system clock
// would run until the context's deadline and fail).
func TestDelDoesNotBlockOnANICStillAway(t *testing.T) {
	w := newWorld(t)
	strayNIC(t, w)
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := memory.NewClock(start, 0)
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
		IPAM: w.ipam, Store: w.store, Locks: w.locks, Clock: clock})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, svc.Del(ctx, w.req(hostBondConf, "c1")))
	assert.Equal(t, 5*time.Second, clock.Since(start), "the default ReturnWait, on the injected clock")
	assert.Equal(t, 100, clock.Waits(), "one look every 50 ms of it")
	assert.Equal(t, 1, w.store.Len(), "record kept for GC")
	_, ok := w.k.Peek(domain.HostNetns, "eth1001")
	assert.True(t, ok, "the other NIC is restored")
}

// A NIC the kernel hands back during the wait, under a kernel name, is
// found by its recorded ifindex at the next look and restored, and the
// record goes.
func TestDelRestoresANICThatReturnsDuringTheWait(t *testing.T) {
	w := newWorld(t)
	limbo, index := strayNIC(t, w)
	ctx := context.Background()
	clock := memory.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), 0)
	clock.OnWait(func(n int) {
		if n == 3 {
			_, err := w.k.Move(ctx, limbo, index, domain.HostNetns, "dev7")
			require.NoError(t, err)
		}
	})
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
		IPAM: w.ipam, Store: w.store, Locks: w.locks, Clock: clock})
	require.NoError(t, err)
	require.NoError(t, svc.Del(ctx, w.req(hostBondConf, "c1")))
	assert.Equal(t, 3, clock.Waits(), "no look after the NIC is back")
	l, ok := w.k.Peek(domain.HostNetns, "eth1000")
	require.True(t, ok, "restored under its recorded name")
	assert.Equal(t, index, l.Index)
	assert.Zero(t, w.store.Len(), "everything is back: the record goes")
}

// The debug daemon's Validate runs the same per-link checks as ADD.
func TestValidateAppliesTheHostLinkChecksOfAdd(t *testing.T) {
	w := newWorld(t)
	w.k.AddAddress(domain.HostNetns, "eth1000", netip.MustParsePrefix("192.0.2.10/24"))
	res, err := w.svc.Validate(context.Background(), []byte(hostBondConf), "net1")
	require.NoError(t, err)
	assert.False(t, res.Valid)
	require.Error(t, res.Error)
	assert.Equal(t, domain.CodeUnsafeHostLink, domain.CodeOf(res.Error, 0))
}
