package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

func record(ctr string) domain.Attachment {
	return domain.Attachment{Version: domain.RecordVersion, ID: domain.AttachmentID{ContainerID: ctr, IfName: "net1"}, Netns: "/run/netns/p", Network: "bond0",
		Phase: domain.PhaseReady, CreatedAt: time.Unix(100, 0).UTC(), Links: []domain.LinkState{{Name: "eth1", Index: 3, MTU: 1500}}}
}

// An upgrade strands nothing: records an earlier version wrote at the
// previous location are loaded, listed and removed through the new store;
// new records go to the current location only.
func TestMovedReadsThePreviousLocation(t *testing.T) {
	ctx := context.Background()
	cur, prev := t.TempDir(), t.TempDir()
	old := record("before-upgrade")
	require.NoError(t, New(prev).Save(ctx, old))

	s := NewMoved(cur, prev)
	got, err := s.Load(ctx, old.ID)
	require.NoError(t, err)
	assert.Equal(t, old, got)

	fresh := record("after-upgrade")
	require.NoError(t, s.Save(ctx, fresh))
	_, err = New(prev).Load(ctx, fresh.ID)
	require.ErrorIs(t, err, domain.ErrNotFound, "nothing new is written at the previous location")
	list, err := s.List(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.Attachment{old, fresh}, list)

	// Recorded at both: the current record wins.
	newer := old
	newer.Phase = domain.PhaseAdding
	require.NoError(t, New(cur).Save(ctx, newer))
	list, err = s.List(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.Attachment{newer, fresh}, list)
	got, err = s.Load(ctx, old.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.PhaseAdding, got.Phase)

	require.NoError(t, s.Delete(ctx, old.ID))
	for _, dir := range []string{cur, prev} {
		_, err = New(dir).Load(ctx, old.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "removed from %s", dir)
	}
	require.NoError(t, s.Delete(ctx, fresh.ID))
	list, err = s.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// The record an earlier release left at the previous location, byte for
// byte as it wrote it (the unversioned format), is found through Moved.
func TestMovedReadsThePreviousReleasesRecord(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join("testdata", "v0-record.json"))
	require.NoError(t, err)
	prev := filepath.Join(t.TempDir(), "bond")
	require.NoError(t, os.Mkdir(prev, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(prev, "8f2a-c1_net1.json"), data, 0o600))
	s := NewMoved(filepath.Join(t.TempDir(), "state"), prev)
	id := domain.AttachmentID{ContainerID: "8f2a-c1", IfName: "net1"}
	got, err := s.Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "bond0", got.Network)
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, id, list[0].ID)
	require.NoError(t, s.Delete(ctx, id))
	assert.NoFileExists(t, filepath.Join(prev, "8f2a-c1_net1.json"))
}

// Unreadable records are shown from both locations.
func TestMovedListsUnreadableRecordsOfBoth(t *testing.T) {
	ctx := context.Background()
	cur, prev := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "bond")
	for _, d := range []string{cur, prev} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "bad_net1.json"), []byte("{"), 0o600))
	}
	bad, err := NewMoved(cur, prev).Unreadable(ctx)
	require.NoError(t, err)
	assert.Len(t, bad, 2)
}

func TestNewMovedWithoutAPreviousLocationIsTheStore(t *testing.T) {
	dir := t.TempDir()
	assert.IsType(t, &Store{}, NewMoved(dir, ""))
	assert.IsType(t, &Store{}, NewMoved(dir, dir))
	assert.IsType(t, Moved{}, NewMoved(dir, t.TempDir()))
}

func TestWritesAreFsyncedOnlyWhereRecordsOutliveAReboot(t *testing.T) {
	assert.True(t, clearedAtBoot(tmpfsMagic))
	assert.True(t, clearedAtBoot(ramfsMagic))
	assert.False(t, clearedAtBoot(0xEF53), "ext4 keeps files across a reboot")
	assert.False(t, clearedAtBoot(0x58465342), "xfs too")

	var d durability
	assert.True(t, d.of("/nonexistent/state"), "when it cannot tell, it syncs")

	// /dev/shm is a tmpfs on every Linux this runs on; check that it is,
	// then that a store there does not sync.
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs("/dev/shm", &st))
	require.EqualValues(t, tmpfsMagic, st.Type, "/dev/shm is a tmpfs")
	dir, err := os.MkdirTemp("/dev/shm", "bond-state")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	var shm durability
	assert.False(t, shm.of(dir))
	s := New(dir)
	require.NoError(t, s.Save(context.Background(), record("c1")), "a volatile store still writes atomically")
	got, err := s.Load(context.Background(), record("c1").ID)
	require.NoError(t, err)
	assert.Equal(t, record("c1"), got)
}
