package app_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
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

// gatedIPAM is the memory IPAM whose ADD waits for a gate and tells when
// it has returned, so a test can place the IPAM branch of an ADD at an
// exact point of the kernel branch running beside it.
type gatedIPAM struct {
	*memory.IPAM
	gate     chan struct{} // Add waits until it is closed
	returned chan struct{} // closed when Add has returned
}

func newGatedIPAM(m *memory.IPAM) *gatedIPAM {
	return &gatedIPAM{IPAM: m, gate: make(chan struct{}), returned: make(chan struct{})}
}

func (g *gatedIPAM) Add(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (domain.IPAMResult, error) {
	<-g.gate
	defer close(g.returned)
	return g.IPAM.Add(ctx, plugin, conf, inv)
}

// kernelBranch returns the steps an ADD of hostBondConf runs beside IPAM
// ADD, and how many mutating kernel calls come before and within them.
func kernelBranch(t *testing.T) (steps []string, before, within int) {
	w := newWorld(t)
	var mu sync.Mutex
	in, beside := false, false
	svc := w.serviceWith(w.ipam, nil, func(s domain.Step) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case s.Kind == domain.StepIPAMAdd: // on its own goroutine
			beside = s.Beside
		case s.Kind == domain.StepRecord: // the branch starts after it
			in = true
		case s.Kind.NeedsIPAM():
			if in {
				within = len(w.k.Ops()) - before
			}
			in = false
		case in:
			if len(steps) == 0 {
				before = len(w.k.Ops())
			}
			steps = append(steps, s.String())
		}
	})
	_, err := svc.Add(context.Background(), w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	require.True(t, beside, "host-local IPAM runs beside the kernel steps")
	require.NotEmpty(t, steps)
	require.Positive(t, within)
	return steps, before, within
}

// IPAM ADD fails while the kernel branch is at each of its steps: the
// kernel branch stops at its next step, and the node is as it was found.
func TestIPAMAddFailsBesideEveryKernelStep(t *testing.T) {
	ctx := context.Background()
	steps, _, _ := kernelBranch(t)
	for _, at := range steps {
		t.Run(at, func(t *testing.T) {
			w := newWorld(t)
			initial := w.state()
			g := newGatedIPAM(w.ipam)
			w.ipam.FailOn("Add", 1, errors.New("injected IPAM fault"))
			ended := make(chan struct{})
			var started []string
			svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
				IPAM: g, Store: w.store, Locks: w.locks,
				BeforeStep: func(s domain.Step) {
					if s.Kind == domain.StepIPAMAdd {
						return // its own goroutine; started is the kernel branch's
					}
					started = append(started, s.String())
					if s.String() == at {
						close(g.gate) // IPAM fails now, while this step runs
						<-ended
					}
				},
				BesideDone: func(domain.Step) { close(ended) },
			})
			require.NoError(t, err)
			_, err = svc.Add(ctx, w.req(hostBondConf, "c1"))
			require.Error(t, err)
			assert.Equal(t, domain.CodeIPAMFailed, domain.CodeOf(err, 0), "%v", err)
			assert.Equal(t, at, started[len(started)-1], "the kernel branch stops at its next step")
			assert.Equal(t, initial, w.state())
		})
	}
}

// A kernel step fails while IPAM ADD is still running, for every mutating
// kernel call of the branch; IPAM ADD then succeeds: ADD waits for it and
// releases the address with the rest of the rollback.
func TestKernelFaultWhileIPAMAddInFlight(t *testing.T) {
	ctx := context.Background()
	_, before, within := kernelBranch(t)
	for k := range within {
		w := newWorld(t)
		initial := w.state()
		g := newGatedIPAM(w.ipam)
		h := &onMessage{msg: "ADD step failed; undoing", ch: make(chan struct{})}
		go func() {
			<-h.ch
			close(g.gate) // IPAM ADD completes only after the kernel failed
		}()
		w.k.FailAfter(before+k, errors.New("injected kernel fault"))
		_, err := w.serviceWith(g, slog.New(h), nil).Add(ctx, w.req(hostBondConf, "c1"))
		require.Error(t, err, "kernel fault at mutating op %d of the branch", k)
		var inj *memory.InjectedError
		require.ErrorAs(t, err, &inj, "the kernel's error is the one reported")
		calls := w.ipam.Calls()
		assert.True(t, slices.Contains(calls, "ADD c1/net1") && slices.Contains(calls, "DEL c1/net1"), "IPAM ADD then DEL: %v", calls)
		w.k.ClearFaults()
		assert.Equal(t, initial, w.state(), "kernel fault at mutating op %d of the branch: %v", k, err)
	}
}

// dhcp takes its lease on the bond itself, so its ADD does not run beside
// the kernel steps: it comes after the bond is up.
func TestDHCPRunsAfterTheBondIsUp(t *testing.T) {
	w := newWorld(t)
	var steps []string
	conf := `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100",
"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"dhcp"}}`
	_, err := w.service(func(s domain.Step) {
		require.False(t, s.Beside)
		steps = append(steps, s.String())
	}).Add(context.Background(), w.req(conf, "c1"))
	require.NoError(t, err)
	i := slices.Index(steps, "ipam-add")
	require.Positive(t, i)
	assert.Equal(t, "bond-up", steps[i-1])
}

// gatedDelIPAM holds IPAM DEL until the kernel teardown of the same DEL
// has started (it claims the host links), and fails if that never comes:
// then IPAM DEL did not run beside the teardown.
type gatedDelIPAM struct {
	*memory.IPAM
	gate chan struct{}
}

func (g *gatedDelIPAM) Del(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	select {
	case <-g.gate:
	case <-time.After(5 * time.Second):
		return errors.New("the kernel teardown did not start while IPAM DEL was running")
	}
	return g.IPAM.Del(ctx, plugin, conf, inv)
}

type claimSignal struct {
	*memory.Locks
	once sync.Once
	ch   chan struct{}
}

func (c *claimSignal) Claim(ctx context.Context, links []string, owner string) (func(), error) {
	c.once.Do(func() { close(c.ch) })
	return c.Locks.Claim(ctx, links, owner)
}

func TestIPAMDelRunsBesideTheTeardown(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	gate := make(chan struct{})
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k,
		IPAM: &gatedDelIPAM{IPAM: w.ipam, gate: gate}, Store: w.store, Locks: &claimSignal{Locks: w.locks, ch: gate}})
	require.NoError(t, err)
	require.NoError(t, svc.Del(ctx, w.req(hostBondConf, "c1")))
	assert.Equal(t, initial, w.state())
}

// IPAM DEL fails beside a teardown that succeeds: DEL reports IPAM's
// error and keeps the record; the next DEL releases the address.
func TestIPAMDelFailsBesideTheTeardown(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
	require.NoError(t, err)
	w.ipam.FailOn("Del", 1, errors.New("injected IPAM fault"))
	err = w.svc.Del(ctx, w.req(hostBondConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeIPAMFailed, domain.CodeOf(err, 0), "%v", err)
	assert.Equal(t, 1, w.store.Len(), "record kept for the next DEL")
	_, home := w.k.Peek(domain.HostNetns, "eth1000")
	assert.True(t, home, "the teardown still ran")
	require.NoError(t, w.svc.Del(ctx, w.req(hostBondConf, "c1")))
	assert.Equal(t, initial, w.state())
}

// bondAtDel is the memory IPAM whose DEL notes whether the bond was still
// in the pod when it ran.
type bondAtDel struct {
	*memory.IPAM
	k       *memory.Kernel
	pod     domain.Netns
	bondWas []bool
}

func (b *bondAtDel) Del(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	_, ok := b.k.Peek(b.pod, "net1")
	b.bondWas = append(b.bondWas, ok)
	return b.IPAM.Del(ctx, plugin, conf, inv)
}

// dhcp releases its lease on the bond, so its DEL is not run beside the
// teardown: it runs while the bond still exists, before anything goes.
func TestDHCPDelRunsBeforeTheTeardown(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	initial := w.state()
	conf := `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100",
"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"dhcp"}}`
	_, err := w.svc.Add(ctx, w.req(conf, "c1"))
	require.NoError(t, err)
	ipam := &bondAtDel{IPAM: w.ipam, k: w.k, pod: w.pod}
	require.NoError(t, w.serviceWith(ipam, nil, nil).Del(ctx, w.req(conf, "c1")))
	assert.Equal(t, []bool{true}, ipam.bondWas, "dhcp's DEL saw the bond")
	assert.Equal(t, initial, w.state())
}
