package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	id := domain.AttachmentID{ContainerID: "ctr/../x", IfName: "net1"}
	_, err := s.Load(ctx, id)
	require.ErrorIs(t, err, domain.ErrNotFound)

	a := domain.Attachment{ID: id, Netns: "/run/netns/p", Network: "bond0", Phase: domain.PhaseAdding,
		CreatedAt: time.Unix(100, 0).UTC(), Links: []domain.LinkState{{Name: "eth1", Index: 3, MTU: 9000, MACText: "02:00:00:00:00:01", Up: true}}}
	require.NoError(t, s.Save(ctx, a))
	got, err := s.Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, a, got)

	// The escaped name stays inside the directory.
	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.NotContains(t, entries[0].Name(), "/")

	list, err := s.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1)

	require.NoError(t, s.Delete(ctx, id))
	require.NoError(t, s.Delete(ctx, id), "deleting twice is fine")
	list, err = s.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestStoreSkipsCorruptAndTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := New(dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad_net1.json"), []byte("{"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("{}"), 0o600))
	list, err := s.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = s.Load(ctx, domain.AttachmentID{ContainerID: "bad", IfName: "net1"})
	require.Error(t, err)
	assert.NotErrorIs(t, err, domain.ErrNotFound)
}
