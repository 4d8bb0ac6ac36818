package safefs_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/safefs"
)

func TestEnsureDirCreatesPrivate(t *testing.T) {
	d := filepath.Join(t.TempDir(), "a", "b")
	require.NoError(t, safefs.EnsureDir(d, safefs.Private))
	fi, err := os.Stat(d)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

// A root-owned 0755 directory (as kubelet's DirectoryOrCreate makes) is
// made private; a world-writable one is refused.
func TestEnsureDirTightensButNeverTrustsWritable(t *testing.T) {
	base := t.TempDir()
	readable := filepath.Join(base, "readable")
	require.NoError(t, os.Mkdir(readable, 0o755))
	require.NoError(t, os.Chmod(readable, 0o755))
	require.NoError(t, safefs.EnsureDir(readable, safefs.Private))
	fi, err := os.Stat(readable)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	writable := filepath.Join(base, "writable")
	require.NoError(t, os.Mkdir(writable, 0o700))
	require.NoError(t, os.Chmod(writable, 0o777))
	assert.ErrorContains(t, safefs.EnsureDir(writable, safefs.Private), "has mode 0777")
	fi, err = os.Stat(writable)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o777), fi.Mode().Perm(), "left as found")
}

func TestCheckDirRefuses(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(open, 0o755))
	require.NoError(t, os.Chmod(open, 0o755))
	assert.ErrorContains(t, safefs.CheckDir(open, safefs.Private), "has mode 0755")
	assert.NoError(t, safefs.CheckDir(open, safefs.NotShared), "logs may be readable")

	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(open, link))
	assert.ErrorContains(t, safefs.EnsureDir(link, safefs.NotShared), "is a symlink")

	if os.Getuid() == 0 {
		other := filepath.Join(base, "other")
		require.NoError(t, os.Mkdir(other, 0o700))
		require.NoError(t, os.Chown(other, 1000, 1000))
		assert.ErrorContains(t, safefs.CheckDir(other, safefs.Private), "owned by uid 1000")
	}
}

func TestOpenFileRefusesSymlinkFIFOAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	_, err := safefs.OpenFile(link, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	assert.ErrorContains(t, err, "is a symlink")

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err = safefs.OpenFile(fifo, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	assert.ErrorContains(t, err, "FIFO", "a FIFO without a reader must not hang the plugin")
	_, err = safefs.OpenFile(fifo, os.O_RDWR|os.O_CREATE, 0o600)
	assert.ErrorContains(t, err, "want a regular file", "nor one with a reader")

	_, err = safefs.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0o600)
	assert.Error(t, err)
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(data))

	if os.Getuid() == 0 {
		require.NoError(t, os.Chown(target, 1000, 1000))
		_, err = safefs.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0o600)
		assert.ErrorContains(t, err, "owned by uid 1000")
	}
	f, err := safefs.OpenFile(filepath.Join(dir, "new"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
