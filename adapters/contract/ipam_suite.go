package contract

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/ports"
)

// IPAMSetup is an IPAM under test, the plugin name to ask for, and a
// network config whose "ipam" allocates from 10.55.0.0/24; %s in Conf is
// replaced by a fresh data directory when the harness needs one.
type IPAMSetup struct {
	IPAM   ports.IPAM
	Plugin string
	Conf   func(extra string) []byte
	Path   string // CNI_PATH
}

// RunIPAMContract checks ports.IPAM the way the use cases rely on it: ADD
// allocates in the pool, a second ADD of the same attachment is refused
// (host-local is not idempotent, so ADD's rollback must DEL), DEL is
// idempotent and frees the address, CHECK passes for a live allocation,
// and GC drops the allocations not listed.
func RunIPAMContract(t *testing.T, mk func(t *testing.T) IPAMSetup) {
	pool := netip.MustParsePrefix("10.55.0.0/24")
	inv := func(s IPAMSetup, ctr string) ports.Invocation {
		return ports.Invocation{ContainerID: ctr, Netns: "/run/netns/x", IfName: "net1", Path: s.Path}
	}
	t.Run("add, add again, del, del again, add", func(t *testing.T) {
		s := mk(t)
		conf := s.Conf("")
		res, err := s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "c1"))
		require.NoError(t, err)
		require.Len(t, res.IPs, 1)
		assert.True(t, pool.Contains(res.IPs[0].Address.Addr()), "%v in %v", res.IPs[0].Address, pool)
		require.NoError(t, s.IPAM.Check(t.Context(), s.Plugin, conf, inv(s, "c1")))
		_, err = s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "c1"))
		require.Error(t, err, "a second ADD of the same attachment is refused")
		require.NoError(t, s.IPAM.Del(t.Context(), s.Plugin, conf, inv(s, "c1")))
		require.NoError(t, s.IPAM.Del(t.Context(), s.Plugin, conf, inv(s, "c1")), "DEL twice")
		_, err = s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "c1"))
		require.NoError(t, err, "ADD after DEL")
	})
	t.Run("two attachments get different addresses", func(t *testing.T) {
		s := mk(t)
		conf := s.Conf("")
		a, err := s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "c1"))
		require.NoError(t, err)
		b, err := s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "c2"))
		require.NoError(t, err)
		assert.NotEqual(t, a.IPs[0].Address, b.IPs[0].Address)
	})
	t.Run("GC drops unlisted allocations", func(t *testing.T) {
		s := mk(t)
		conf := s.Conf("")
		keep, err := s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "keep"))
		require.NoError(t, err)
		_, err = s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "stale"))
		require.NoError(t, err)
		gc := s.Conf(`,"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"net1"}]`)
		require.NoError(t, s.IPAM.GC(t.Context(), s.Plugin, gc, ports.Invocation{Path: s.Path}))
		// The stale address is free again: allocating for "stale" anew works,
		// and "keep" still holds its own.
		_, err = s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "stale"))
		require.NoError(t, err, "the stale reservation was dropped")
		_, err = s.IPAM.Add(t.Context(), s.Plugin, conf, inv(s, "keep"))
		require.Error(t, err, "the listed reservation %v was kept", keep.IPs[0].Address)
	})
}

// HostLocalConf is a network config using host-local on 10.55.0.0/24 with
// its data under dir.
func HostLocalConf(dir string) func(extra string) []byte {
	return func(extra string) []byte {
		return []byte(fmt.Sprintf(`{"cniVersion":"1.1.0","name":"ipamtest","type":"bond"%s,"ipam":{"type":"host-local","subnet":"10.55.0.0/24","dataDir":%q}}`, extra, dir))
	}
}
