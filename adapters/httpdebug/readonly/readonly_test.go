package readonly_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug/readonly"
	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

func TestMutationsRefused(t *testing.T) {
	k := memory.NewKernel()
	pod := k.AddNetns("/run/netns/p")
	l := k.AddPhysical(domain.HostNetns, "eth0", 0, nil)
	before, ops := k.Snapshot(), k.Ops()
	r := readonly.NewKernel(k)
	ctx := context.Background()

	_, err := r.Move(ctx, domain.HostNetns, l.Index, pod, "eth0")
	assert.ErrorIs(t, err, readonly.ErrReadOnly)
	assert.ErrorIs(t, r.Restore(ctx, domain.HostNetns, l.Index, domain.LinkState{Name: "x"}), readonly.ErrReadOnly)
	assert.ErrorIs(t, r.SetUp(ctx, domain.HostNetns, l.Index, true), readonly.ErrReadOnly)
	assert.ErrorIs(t, r.Delete(ctx, domain.HostNetns, l.Index), readonly.ErrReadOnly)
	_, err = r.CreateBond(ctx, pod, domain.BondSpec{Name: "b"}, "a")
	assert.ErrorIs(t, err, readonly.ErrReadOnly)
	assert.ErrorIs(t, r.Enslave(ctx, pod, 1, 2), readonly.ErrReadOnly)
	assert.ErrorIs(t, r.Release(ctx, pod, 2), readonly.ErrReadOnly)
	assert.ErrorIs(t, r.Configure(ctx, pod, 1, nil, nil), readonly.ErrReadOnly)
	_, err = r.CreateVLAN(ctx, pod, 1, domain.VLANSpec{Name: "v0", ID: 5, Protocol: domain.VLAN8021Q}, "")
	assert.ErrorIs(t, err, readonly.ErrReadOnly)
	assert.True(t, before.Equal(k.Snapshot()))
	assert.Equal(t, ops, k.Ops())

	got, err := r.Link(ctx, domain.HostNetns, "eth0")
	require.NoError(t, err)
	assert.Equal(t, l.Index, got.Index)

	st := memory.NewStore()
	rs := readonly.Store{S: st}
	assert.ErrorIs(t, rs.Save(ctx, domain.Attachment{ID: domain.AttachmentID{ContainerID: "c", IfName: "i"}}), readonly.ErrReadOnly)
	assert.ErrorIs(t, rs.Delete(ctx, domain.AttachmentID{ContainerID: "c", IfName: "i"}), readonly.ErrReadOnly)
	assert.Equal(t, 0, st.Len())
	_, err = rs.Load(ctx, domain.AttachmentID{ContainerID: "c", IfName: "i"})
	assert.ErrorIs(t, err, domain.ErrNotFound)

	_, err = readonly.IPAM{}.Add(ctx, "host-local", nil, ports.Invocation{})
	assert.ErrorIs(t, err, readonly.ErrReadOnly)
	_, err = readonly.Locks{}.Claim(ctx, []string{"eth0"}, "x")
	assert.ErrorIs(t, err, readonly.ErrReadOnly)
}

// socketKernel counts the sockets a caching adapter would hold per netns.
type socketKernel struct {
	*memory.Kernel
	mu      sync.Mutex
	open    map[domain.Netns]bool
	forgets map[domain.Netns]int
	block   chan struct{}
	inLink  chan struct{}
}

func (s *socketKernel) Link(ctx context.Context, ns domain.Netns, name string) (domain.Link, error) {
	s.mu.Lock()
	s.open[ns] = true
	s.mu.Unlock()
	if s.block != nil {
		s.inLink <- struct{}{}
		<-s.block
	}
	s.mu.Lock()
	open := s.open[ns]
	s.mu.Unlock()
	if !open {
		return domain.Link{}, errors.New("socket closed under a read")
	}
	return s.Kernel.Link(ctx, ns, name)
}

func (s *socketKernel) Forget(ns domain.Netns) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, ns)
	s.forgets[ns]++
	return nil
}

func TestPodSocketsClosedAfterUse(t *testing.T) {
	mk := memory.NewKernel()
	pod := mk.AddNetns("/run/netns/p")
	mk.AddVirtual(pod, "dummy", "d0", 0, nil)
	sk := &socketKernel{Kernel: mk, open: map[domain.Netns]bool{}, forgets: map[domain.Netns]int{}}
	r := readonly.NewKernel(sk)
	ctx := context.Background()

	_, err := r.Link(ctx, pod, "d0")
	require.NoError(t, err)
	assert.False(t, sk.open[pod], "the pod's socket is closed once the read is done")
	assert.Equal(t, 1, sk.forgets[pod])
	_, _ = r.Link(ctx, domain.HostNetns, "lo")
	assert.True(t, sk.open[domain.HostNetns], "the host socket is kept")
	assert.Zero(t, sk.forgets[domain.HostNetns])

	// Concurrent reads in one netns: the socket stays open until the last ends.
	sk.block, sk.inLink = make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Link(ctx, pod, "d0")
			errs <- err
		}()
	}
	<-sk.inLink
	<-sk.inLink
	sk.block <- struct{}{} // the first read ends while the second is in flight
	require.NoError(t, <-errs, "the first read has returned, its release done")
	sk.mu.Lock()
	assert.True(t, sk.open[pod], "still in use by the second read")
	assert.Equal(t, 1, sk.forgets[pod], "not forgotten under the second read")
	sk.mu.Unlock()
	sk.block <- struct{}{}
	wg.Wait()
	assert.NoError(t, <-errs)
	assert.False(t, sk.open[pod])
	assert.Equal(t, 2, sk.forgets[pod])
}
