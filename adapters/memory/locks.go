package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Locks is an in-process ports.Locks with the same contract as the flock
// adapter: sorted claims, bounded waits, ErrBusy naming the holder.
type Locks struct {
	mu     sync.Mutex
	owners map[string]string
	freed  chan struct{} // closed and replaced whenever a lock is released
}

var _ ports.Locks = (*Locks)(nil)

// NewLocks returns an empty lock set.
func NewLocks() *Locks {
	return &Locks{owners: map[string]string{}, freed: make(chan struct{})}
}

// Claim takes every named lock or none, waiting until ctx is done.
func (l *Locks) Claim(ctx context.Context, links []string, owner string) (func(), error) {
	names := slices.Clone(links)
	slices.Sort(names)
	names = slices.Compact(names)
	for {
		l.mu.Lock()
		busy := ""
		for _, n := range names {
			if _, held := l.owners[n]; held {
				busy = n
				break
			}
		}
		if busy == "" {
			for _, n := range names {
				l.owners[n] = owner
			}
			l.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { l.release(names) }) }, nil
		}
		holder, wait := l.owners[busy], l.freed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up waiting (%w): %w", ctx.Err(), &domain.HeldError{Link: busy, Holder: holder})
		case <-wait:
		}
	}
}

func (l *Locks) release(names []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		delete(l.owners, n)
	}
	close(l.freed)
	l.freed = make(chan struct{})
}

// Held reports how many links are locked (tests assert none leak).
func (l *Locks) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.owners)
}
