package locks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestClaimIsExclusiveAndNamesTheHolder(t *testing.T) {
	l := New(privateDir(t))
	release, err := l.Claim(context.Background(), []string{"eth1", "eth0"}, "container A")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = l.Claim(ctx, []string{"eth0"}, "container B")
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrBusy)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), `"eth0"`)
	var held *domain.HeldError
	require.ErrorAs(t, err, &held)
	assert.Equal(t, "container A", held.Holder, "the holder is there for the log")
	assert.NotContains(t, err.Error(), "container A", "but not in the message")

	release()
	release() // idempotent
	r2, err := l.Claim(context.Background(), []string{"eth0"}, "container B")
	require.NoError(t, err)
	r2()
}

func TestClaimSerialisesRacers(t *testing.T) {
	l := New(privateDir(t))
	var occ occupancy
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Opposite orders must not deadlock: Claim sorts.
			names := []string{"a", "b"}
			if i%2 == 1 {
				names = []string{"b", "a"}
			}
			rel, err := l.Claim(context.Background(), names, "racer")
			if !assert.NoError(t, err) {
				return
			}
			leave := occ.enter()
			time.Sleep(time.Millisecond)
			leave()
			rel()
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), occ.max.Load())
}

// A lock dies with its process: a SIGKILLed plugin never leaves a link locked.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	if os.Getenv("LOCKS_HELPER_DIR") != "" {
		_, err := New(os.Getenv("LOCKS_HELPER_DIR")).Claim(context.Background(), []string{"eth9"}, "doomed")
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Hour)
		return
	}
	dir := privateDir(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLockReleasedWhenHolderDies$")
	cmd.Env = append(os.Environ(), "LOCKS_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 7)
	_, err = out.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "locked\n", string(buf))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	_, err = New(dir).Claim(ctx, []string{"eth9"}, "me")
	cancel()
	require.ErrorIs(t, err, domain.ErrBusy, "held while the holder lives")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	rel, err := New(dir).Claim(context.Background(), []string{"eth9"}, "me")
	require.NoError(t, err, "released by the kernel when the holder died")
	data, err := os.ReadFile(filepath.Join(dir, "eth9.lock"))
	require.NoError(t, err)
	assert.Equal(t, "me", string(data), "the dead holder's file was replaced, not truncated")
	rel()
}

func privateDir(t *testing.T) string {
	d := filepath.Join(t.TempDir(), "locks")
	require.NoError(t, os.Mkdir(d, 0o700))
	return d
}

// Lock files go when their holder releases them: the directory does not
// fill up with one file per link ever bonded.
func TestLockFilesRemovedOnRelease(t *testing.T) {
	dir := privateDir(t)
	rel, err := New(dir).Claim(context.Background(), []string{"eth0", "eth1"}, "A")
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "eth0.lock"))
	rel()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// A symlink planted as a lock file is not followed: its target keeps its
// content, and the claim fails.
func TestLockFileSymlinkRefused(t *testing.T) {
	dir := privateDir(t)
	target := filepath.Join(t.TempDir(), "shadow")
	require.NoError(t, os.WriteFile(target, []byte("root:x:0:0\n"), 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "eth0.lock")))
	_, err := New(dir).Claim(context.Background(), []string{"eth0"}, "A")
	require.ErrorContains(t, err, "symlink")
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "root:x:0:0\n", string(data))
}

func TestLockDirMustBePrivate(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o733))
	_, err := New(open).Claim(context.Background(), []string{"eth0"}, "A")
	require.ErrorContains(t, err, "has mode 0733")
	fresh := filepath.Join(t.TempDir(), "a", "locks")
	rel, err := New(fresh).Claim(context.Background(), []string{"eth0"}, "A")
	require.NoError(t, err)
	rel()
	fi, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

// Many racers on one link with files removed on every release: never two
// holders at once.
func TestRemovalNeverLetsTwoHoldersIn(t *testing.T) {
	l := New(privateDir(t))
	var occ occupancy
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				rel, err := l.Claim(context.Background(), []string{"eth0"}, "racer")
				if !assert.NoError(t, err) {
					return
				}
				occ.enter()()
				rel()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), occ.max.Load())
}

// occupancy counts the holders inside a critical section and the most at
// once.
type occupancy struct{ now, max atomic.Int32 }

func (o *occupancy) enter() (leave func()) {
	n := o.now.Add(1)
	for {
		m := o.max.Load()
		if n <= m || o.max.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { o.now.Add(-1) }
}
