// Package netnstest creates and destroys named network namespaces for tests
// that run as root on a real kernel, the way `ip netns add` does: a new
// namespace is made on a thread that is then discarded, and kept alive by a
// bind mount of its nsfs file.
package netnstest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// The main goroutine stays on the main thread. A goroutine that exits
// locked takes its thread with it (OnDiscardedThread, a failed netns.Do),
// except the main thread, which the runtime can only wedge: it would then
// keep the namespace it was moved into alive forever and change what
// /proc/self/ns/* shows. The plugin's main package does the same, and so
// does every binary that imports this package (the test kit and the bench).
func init() { runtime.LockOSThread() }

// New creates a namespace bound at a file under t.TempDir(), destroyed when
// the test ends (if it still exists).
func New(t testing.TB) domain.Netns {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := Create(path); err != nil {
		t.Fatalf("creating netns: %v", err)
	}
	t.Cleanup(func() {
		if err := Destroy(path); err != nil {
			t.Errorf("destroying netns: %v", err)
		}
	})
	return domain.Netns(path)
}

// Create makes a new network namespace and bind-mounts it at path (a file
// created for the purpose). The namespace lives until Destroy.
func Create(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	f.Close()
	err = OnDiscardedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting %s on %s: %w", self, path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// OnDiscardedThread runs fn on a fresh goroutine locked to its OS thread
// and never unlocked, so the thread ends with the goroutine: fn may change
// the thread for good (unshare a namespace, enter one it cannot leave) and
// no other goroutine ever runs there. To run code in a namespace and come
// back, use netns.Do, which hands the thread back only once it is restored.
func OnDiscardedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// Destroy unmounts and removes a namespace made by Create. The namespace
// itself dies once nothing else (an open fd, a socket, a process) holds it;
// its virtual links die with it. A path that no longer exists is fine.
func Destroy(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}
