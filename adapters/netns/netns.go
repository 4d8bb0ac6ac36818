// Package netns opens network namespaces by path, checks them, and runs code
// inside one on a dedicated OS thread.
//
// Thread discipline: a goroutine's namespace is that of the OS thread it runs
// on, and goroutines hop threads. So the only code that ever changes a
// thread's namespace is Do, on a fresh goroutine locked to its thread;
// every other thread of the process stays in the namespace the process
// started in. The host namespace is therefore read from
// /proc/<pid>/task/<tid>/ns/net of a freshly locked thread, never from
// /proc/self/ns/net, which names the main thread's namespace whatever thread
// reads it.
package netns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Name is how messages name ns: "the host netns", or "netns" and its path.
func Name(ns domain.Netns) string {
	if ns == domain.HostNetns {
		return "the host netns"
	}
	return "netns " + string(ns)
}

// Open opens a handle on ns, checking that it is a network namespace.
// domain.HostNetns opens the namespace the process runs in. Errors wrap
// domain.ErrNotFound if the path does not exist and domain.ErrNotNetns if it
// is something else. The caller closes the file.
func Open(ns domain.Netns) (*os.File, error) {
	if ns == domain.HostNetns {
		return openHost()
	}
	path := string(ns)
	f, err := openPath(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("netns %s: %w: %w", path, domain.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", path, err)
	}
	if err := verify(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// verify checks that f is an nsfs file for a network namespace.
func verify(f *os.File, path string) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("netns %s: statfs: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("netns %s: %w (filesystem type %#x, not nsfs)", path, domain.ErrNotNetns, st.Type)
	}
	// An nsfs file may be another kind of namespace (mnt, pid...).
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err == nil && typ != unix.CLONE_NEWNET {
		return fmt.Errorf("netns %s: %w (a namespace of another type)", path, domain.ErrNotNetns)
	}
	return nil
}

// openHost opens the process's own network namespace through a thread that
// is known not to have moved: a fresh goroutine locked to its thread (see
// the package comment). It works even when called from inside Do.
func openHost() (*os.File, error) {
	var f *os.File
	err := onFreshThread(func() error {
		var err error
		f, err = openThread()
		return err
	})
	return f, err
}

// openThread opens the network namespace of the calling thread, which must
// be locked.
func openThread() (*os.File, error) {
	h, err := vnetns.GetFromThread(os.Getpid(), unix.Gettid())
	if err != nil {
		return nil, fmt.Errorf("opening own netns: %w", err)
	}
	return os.NewFile(uintptr(h), fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())), nil
}

// openPath opens a namespace file through vishvananda/netns (O_CLOEXEC).
func openPath(path string) (*os.File, error) {
	h, err := vnetns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(h), path), nil
}

// Same reports whether two namespace handles refer to the same namespace.
func Same(a, b *os.File) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(int(a.Fd()), &sa); err != nil {
		return false, fmt.Errorf("stat %s: %w", a.Name(), err)
	}
	if err := unix.Fstat(int(b.Fd()), &sb); err != nil {
		return false, fmt.Errorf("stat %s: %w", b.Name(), err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// Checker is a ports.Namespaces on the real filesystem.
type Checker struct{}

var _ ports.Namespaces = Checker{}

// Check returns nil if ns is a network namespace other than the plugin's
// own; errors wrap domain.ErrNotFound (no such path) or domain.ErrNotNetns
// (not a network namespace, or the plugin's own namespace).
func (Checker) Check(ctx context.Context, ns domain.Netns) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ns == domain.HostNetns {
		return fmt.Errorf("empty netns path: %w (that is the plugin's own namespace)", domain.ErrNotNetns)
	}
	f, err := Open(ns)
	if err != nil {
		return err
	}
	defer f.Close()
	host, err := openHost()
	if err != nil {
		return err
	}
	defer host.Close()
	same, err := Same(f, host)
	if err != nil {
		return err
	}
	if same {
		return fmt.Errorf("netns %s: %w: it is the plugin's own (host) namespace", ns, domain.ErrNotNetns)
	}
	return nil
}
