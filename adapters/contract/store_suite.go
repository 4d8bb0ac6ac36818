package contract

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// RunStoreContract checks ports.Store: records round-trip whole (as JSON
// would carry them), a missing one is ErrNotFound, Delete is idempotent,
// List returns every record, and any container ID or ifname is safe.
func RunStoreContract(t *testing.T, mk func(t *testing.T) ports.Store) {
	rec := func(ctr, ifname string) domain.Attachment {
		return domain.Attachment{
			Version: domain.RecordVersion,
			ID:      domain.AttachmentID{ContainerID: ctr, IfName: ifname}, Netns: "/run/netns/p", Network: "bond0",
			Phase: domain.PhaseReady, CreatedAt: time.Unix(1700000000, 0).UTC(), Mode: "active-backup",
			Links:   []domain.LinkState{{Name: "eth1000", Index: 2, MTU: 9000, MACText: "52:54:00:00:10:00", Up: true}},
			BondMTU: 9000, IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")},
			PodNamespace: "default", PodName: "p", Config: []byte(`{"cniVersion":"1.1.0"}`),
		}
	}
	t.Run("save, load, list, delete", func(t *testing.T) {
		s := mk(t)
		a := rec("c1", "net1")
		require.NoError(t, s.Save(t.Context(), a))
		got, err := s.Load(t.Context(), a.ID)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		all, err := s.List(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []domain.Attachment{a}, all)
		require.NoError(t, s.Delete(t.Context(), a.ID))
		_, err = s.Load(t.Context(), a.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		require.NoError(t, s.Delete(t.Context(), a.ID), "deleting twice is fine")
	})
	t.Run("saving again replaces the record", func(t *testing.T) {
		s := mk(t)
		a := rec("c1", "net1")
		require.NoError(t, s.Save(t.Context(), a))
		a.Phase = domain.PhaseAdding
		require.NoError(t, s.Save(t.Context(), a))
		got, err := s.Load(t.Context(), a.ID)
		require.NoError(t, err)
		assert.Equal(t, domain.PhaseAdding, got.Phase)
		all, err := s.List(t.Context())
		require.NoError(t, err)
		assert.Len(t, all, 1)
	})
	t.Run("ids that look like paths stay apart", func(t *testing.T) {
		s := mk(t)
		ids := [][2]string{{"../../etc", "passwd"}, {"a_b", "c"}, {"a", "b_c"}, {"x/y", "net1"}}
		for _, id := range ids {
			require.NoError(t, s.Save(t.Context(), rec(id[0], id[1])))
		}
		all, err := s.List(t.Context())
		require.NoError(t, err)
		assert.Len(t, all, len(ids))
		for _, id := range ids {
			got, err := s.Load(t.Context(), domain.AttachmentID{ContainerID: id[0], IfName: id[1]})
			require.NoError(t, err)
			assert.Equal(t, id[0], got.ID.ContainerID)
		}
	})
}

// RunLocksContract checks ports.Locks: claims are exclusive, a bounded
// wait ends in a HeldError naming the link (and, for the log, the holder), release is
// idempotent and lets the next claim in.
func RunLocksContract(t *testing.T, mk func(t *testing.T) ports.Locks) {
	t.Run("exclusive, bounded, names the holder", func(t *testing.T) {
		l := mk(t)
		rel, err := l.Claim(t.Context(), []string{"eth1", "eth0"}, "container A")
		require.NoError(t, err)
		ctx, cancel := contextWithTimeout(t, 30*time.Millisecond)
		defer cancel()
		_, err = l.Claim(ctx, []string{"eth0"}, "container B")
		require.ErrorIs(t, err, domain.ErrBusy)
		assert.Contains(t, err.Error(), "eth0")
		var held *domain.HeldError
		require.ErrorAs(t, err, &held)
		assert.Equal(t, "container A", held.Holder)
		rel()
		rel()
		rel2, err := l.Claim(t.Context(), []string{"eth0", "eth1"}, "container B")
		require.NoError(t, err)
		rel2()
	})
	t.Run("disjoint claims do not wait", func(t *testing.T) {
		l := mk(t)
		rel, err := l.Claim(t.Context(), []string{"eth0"}, "A")
		require.NoError(t, err)
		defer rel()
		ctx, cancel := contextWithTimeout(t, time.Second)
		defer cancel()
		rel2, err := l.Claim(ctx, []string{"eth1"}, "B")
		require.NoError(t, err)
		rel2()
	})
}
