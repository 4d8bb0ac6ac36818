// Package locks claims host links across plugin processes with one flock(2)
// file per link under a directory (default /run/bond-cni/locks, on tmpfs so
// a reboot clears it). flock is released by the kernel when the process
// dies, so a SIGKILLed plugin never leaves a link locked. The lock file
// holds its owner's description for the node's log, and is removed when
// its holder releases it. The directory is created 0700, made private if
// it is root's but readable by others, and refused if others can write it;
// lock files are opened without following symlinks and never truncated.
package locks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/safefs"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// DefaultDir is where lock files live unless configured otherwise.
const DefaultDir = "/run/bond-cni/locks"

// poll is how often a contended lock is retried.
const poll = 5 * time.Millisecond

// Files is a ports.Locks on flock(2).
type Files struct {
	dir string
}

var _ ports.Locks = (*Files)(nil)

// New returns a lock set rooted at dir ("" = DefaultDir).
func New(dir string) *Files {
	if dir == "" {
		dir = DefaultDir
	}
	return &Files{dir: dir}
}

// Claim locks each link in sorted order, waiting until ctx is done.
func (l *Files) Claim(ctx context.Context, links []string, owner string) (func(), error) {
	if err := safefs.EnsureDir(l.dir, safefs.Private); err != nil {
		return nil, fmt.Errorf("lock dir: %w", err)
	}
	names := slices.Clone(links)
	slices.Sort(names)
	names = slices.Compact(names)
	var held []*os.File
	release := func() {
		for _, f := range held {
			unlock(f)
		}
		held = nil
	}
	var once sync.Once
	releaseOnce := func() { once.Do(release) }
	for _, name := range names {
		f, err := l.lock(ctx, name, owner)
		if err != nil {
			releaseOnce()
			return nil, err
		}
		held = append(held, f)
	}
	return releaseOnce, nil
}

// unlock removes the lock file while still holding it, then unlocks. A
// waiter that gets the lock on the removed file sees that its path no
// longer names it and starts over (see lock), so removing never lets two
// holders in.
func unlock(f *os.File) {
	_ = os.Remove(f.Name())
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}

func (l *Files) lock(ctx context.Context, name, owner string) (*os.File, error) {
	// Interface names cannot contain '/', so the name is a safe file name;
	// refuse anything else rather than trust it.
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("lock: invalid link name %q", name)
	}
	path := filepath.Join(l.dir, name+".lock")
	for {
		f, err := safefs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening lock for %q: %w", name, err)
		}
		if err := waitFlock(ctx, f, name); err != nil {
			f.Close()
			return nil, err
		}
		switch current, err := sameFile(f, path); {
		case err != nil:
			unlockKeep(f)
			return nil, fmt.Errorf("checking lock for %q: %w", name, err)
		case !current:
			// Its holder removed it while we waited: lock the new one.
			unlockKeep(f)
			continue
		}
		fi, err := f.Stat()
		if err != nil {
			unlockKeep(f)
			return nil, fmt.Errorf("checking lock for %q: %w", name, err)
		}
		if fi.Size() > 0 {
			// Left by a holder that died before it could remove it (flock
			// died with it). Remove it rather than truncate it, and start over
			// with a fresh, empty file.
			unlock(f)
			continue
		}
		// Record the owner for whoever waits next (the file is new and empty).
		_, _ = f.WriteAt([]byte(owner), 0)
		return f, nil
	}
}

// unlockKeep unlocks and closes without removing: the path is not ours.
func unlockKeep(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}

// waitFlock takes the exclusive flock on f, polling until ctx is done.
func waitFlock(ctx context.Context, f *os.File, name string) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("locking %q: %w", name, err)
		}
		select {
		case <-ctx.Done():
			holder := make([]byte, 512)
			n, _ := f.ReadAt(holder, 0)
			return fmt.Errorf("gave up waiting (%w): %w", ctx.Err(), &domain.HeldError{Link: name, Holder: describe(holder[:n])})
		case <-time.After(poll):
		}
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

func describe(holder []byte) string {
	if len(holder) == 0 {
		return "another plugin process"
	}
	return string(holder)
}
