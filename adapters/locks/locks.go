// Package locks claims host links across plugin processes with one flock(2)
// file per link under a directory (default /run/bond-cni/locks, on tmpfs so
// a reboot clears it). flock is released by the kernel when the process
// dies, so a SIGKILLed plugin never leaves a link locked. The lock file
// holds its owner's description for error messages.
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
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating lock dir: %w", err)
	}
	names := slices.Clone(links)
	slices.Sort(names)
	names = slices.Compact(names)
	var held []*os.File
	release := func() {
		for _, f := range held {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			f.Close()
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

func (l *Files) lock(ctx context.Context, name, owner string) (*os.File, error) {
	// Interface names cannot contain '/', so the name is a safe file name;
	// refuse anything else rather than trust it.
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("lock: invalid link name %q", name)
	}
	path := filepath.Join(l.dir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock for %q: %w", name, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %q: %w", name, err)
		}
		select {
		case <-ctx.Done():
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("gave up waiting (%w): %w", ctx.Err(), &domain.HeldError{Link: name, Holder: describe(holder)})
		case <-time.After(poll):
		}
	}
	// Record the owner for whoever waits next.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(owner), 0)
	}
	return f, nil
}

func describe(holder []byte) string {
	if len(holder) == 0 {
		return "another plugin process"
	}
	return string(holder)
}
