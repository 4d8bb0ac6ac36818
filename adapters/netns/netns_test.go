package netns_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/netns/netnstest"
	"github.com/bondcni/bond/domain"
)

func TestOpenMissingIsNotFound(t *testing.T) {
	_, err := netns.Open(domain.Netns(filepath.Join(t.TempDir(), "nope")))
	require.ErrorIs(t, err, domain.ErrNotFound)
	assert.Contains(t, err.Error(), "nope")
}

func TestOpenRegularFileIsNotNetns(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	_, err := netns.Open(domain.Netns(p))
	require.ErrorIs(t, err, domain.ErrNotNetns)
}

func TestOpenOtherNamespaceTypeIsNotNetns(t *testing.T) {
	_, err := netns.Open("/proc/self/ns/uts")
	require.ErrorIs(t, err, domain.ErrNotNetns)
}

func TestCheckRefusesOwnNamespace(t *testing.T) {
	c := netns.Checker{}
	err := c.Check(context.Background(), domain.HostNetns)
	require.ErrorIs(t, err, domain.ErrNotNetns)
	// Opened by the calling thread, which is in the host namespace.
	err = c.Check(context.Background(), "/proc/thread-self/ns/net")
	require.ErrorIs(t, err, domain.ErrNotNetns)
	assert.Contains(t, err.Error(), "own")
	err = c.Check(context.Background(), "/nonexistent/netns")
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func ownIno(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat("/proc/thread-self/ns/net", &st))
	return st.Ino
}

func TestDoRunsInsideAndComesBack(t *testing.T) {
	requireRoot(t)
	ns := netnstest.New(t)
	require.NoError(t, netns.Checker{}.Check(context.Background(), ns))

	var target unix.Stat_t
	require.NoError(t, unix.Stat(string(ns), &target))
	before := ownIno(t)

	var inside uint64
	for range 20 { // threads are reused; none may stay behind in ns
		require.NoError(t, netns.Do(ns, func() error {
			var st unix.Stat_t
			if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
				return err
			}
			inside = st.Ino
			return nil
		}))
		assert.Equal(t, target.Ino, inside)
	}
	assert.Equal(t, before, ownIno(t))
	h, err := netns.Open(domain.HostNetns)
	require.NoError(t, err)
	defer h.Close()
	var hs unix.Stat_t
	require.NoError(t, unix.Fstat(int(h.Fd()), &hs))
	assert.Equal(t, before, hs.Ino)
}

func TestDoInTheHostNeedsNoSwitch(t *testing.T) {
	before := ownIno(t)
	var inside uint64
	require.NoError(t, netns.Do(domain.HostNetns, func() error {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			return err
		}
		inside = st.Ino
		return nil
	}))
	assert.Equal(t, before, inside)
	assert.ErrorIs(t, netns.Do(domain.HostNetns, func() error { return domain.ErrNotFound }), domain.ErrNotFound)
}

func TestDoMissingNamespace(t *testing.T) {
	err := netns.Do("/nonexistent/netns", func() error { return nil })
	require.ErrorIs(t, err, domain.ErrNotFound)
}
