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
	s := New(filepath.Join(t.TempDir(), "state"))
	id := domain.AttachmentID{ContainerID: "ctr/../x", IfName: "net1"}
	_, err := s.Load(ctx, id)
	require.ErrorIs(t, err, domain.ErrNotFound)

	a := domain.Attachment{ID: id, Netns: "/run/netns/p", Network: "bond0", Phase: domain.PhaseAdding,
		CreatedAt: time.Unix(100, 0).UTC(), Links: []domain.LinkState{{Name: "eth1", Index: 3, MTU: 9000, MACText: "02:00:00:00:00:01", Up: true}}}
	require.NoError(t, s.Save(ctx, a))
	got, err := s.Load(ctx, id)
	require.NoError(t, err)
	a.Version = domain.RecordVersion
	assert.Equal(t, a, got)
	fi, err := os.Stat(s.Dir())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "created private")

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
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	s := New(dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad_net1.json"), []byte("{"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("{}"), 0o600))
	list, err := s.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = s.Load(ctx, domain.AttachmentID{ContainerID: "bad", IfName: "net1"})
	require.Error(t, err)
	assert.NotErrorIs(t, err, domain.ErrNotFound)
	assert.ErrorIs(t, err, domain.ErrUnreadable)
	bad, err := s.Unreadable(ctx)
	require.NoError(t, err)
	require.Len(t, bad, 1, "the corrupt record is listed, the temporary file is not")
	assert.Equal(t, filepath.Join(dir, "bad_net1.json"), bad[0].File)
}

// Records written by the format before versions existed are read; the
// fixture is such a file, as the previous release wrote it.
func TestStoreReadsThePreviousFormat(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "v0-record.json"))
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "8f2a-c1_net1.json"), data, 0o600))
	got, err := New(dir).Load(context.Background(), domain.AttachmentID{ContainerID: "8f2a-c1", IfName: "net1"})
	require.NoError(t, err)
	assert.Equal(t, 0, got.Version)
	assert.Equal(t, "bond0", got.Network)
	require.Len(t, got.Links, 2)
	assert.Equal(t, domain.LinkState{Name: "eth1000", Index: 3, MTU: 1500, MACText: "52:54:00:12:34:00", PermMAC: "52:54:00:12:34:00"}, got.Links[0])
	assert.Zero(t, got.Links[0].PodIndex, "unknown in the previous format: DEL falls back to kind and permanent MAC")
}

// A record of another shape, a truncated one, or one of a newer format is
// unreadable (never an empty record DEL would take as "nothing to do"), and
// so is one planted through a symlink or owned by another user.
func TestStoreRefusesWhatItCannotTrust(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	s := New(dir)
	cases := map[string]string{
		"links as an object": `{"id":{"containerID":"c","ifname":"net1"},"links":{"name":"eth0"}}`,
		"truncated":          `{"version":1,"id":{"containerID":"c","ifname":"net1"},"links":[{"name":"eth`,
		"newer format":       `{"version":3,"id":{"containerID":"c","ifname":"net1"}}`,
		"unknown key":        `{"version":1,"id":{"containerID":"c","ifname":"net1"},"slaves":["eth0"]}`,
		"no identity":        `{"version":1,"links":[]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "c_net1.json"), []byte(body), 0o600))
			_, err := s.Load(ctx, domain.AttachmentID{ContainerID: "c", IfName: "net1"})
			require.ErrorIs(t, err, domain.ErrUnreadable)
			assert.Contains(t, err.Error(), filepath.Join(dir, "c_net1.json"), "the error names the file")
		})
	}
	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "forged.json")
		require.NoError(t, os.WriteFile(target, []byte(`{"id":{"containerID":"c","ifname":"net1"}}`), 0o600))
		p := filepath.Join(dir, "c_net1.json")
		require.NoError(t, os.Remove(p))
		require.NoError(t, os.Symlink(target, p))
		_, err := s.Load(ctx, domain.AttachmentID{ContainerID: "c", IfName: "net1"})
		require.ErrorIs(t, err, domain.ErrUnreadable)
		assert.Contains(t, err.Error(), "symlink")
	})
	t.Run("root's 0755 directory made private", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "kubelet-made")
		require.NoError(t, os.Mkdir(d, 0o755))
		require.NoError(t, os.Chmod(d, 0o755))
		_, err := New(d).List(ctx)
		require.NoError(t, err, "nobody else can write it: its records are trusted")
		require.NoError(t, New(d).Save(ctx, domain.Attachment{ID: domain.AttachmentID{ContainerID: "c", IfName: "net1"}}))
		fi, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	})
	t.Run("directory not private", func(t *testing.T) {
		open := filepath.Join(t.TempDir(), "open")
		require.NoError(t, os.Mkdir(open, 0o700))
		require.NoError(t, os.Chmod(open, 0o777))
		_, err := New(open).List(ctx)
		assert.ErrorContains(t, err, "has mode 0777")
		err = New(open).Save(ctx, domain.Attachment{ID: domain.AttachmentID{ContainerID: "c", IfName: "net1"}})
		assert.ErrorContains(t, err, "has mode 0777")
	})
}
