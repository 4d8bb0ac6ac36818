package state

import (
	"context"
	"errors"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Moved is the store at its current location that also reads the records
// an earlier version wrote at its previous one, so that attachments made
// before an upgrade are still undone by DEL, seen by GC and by the debug
// daemon. New records are written at the current location only; a record
// is removed from both.
type Moved struct {
	Current, Previous *Store
}

var _ ports.Store = Moved{}

// NewMoved returns the store for dir that also reads previous; with no
// previous location (or the same one) it is just the store for dir.
func NewMoved(dir, previous string) ports.Store {
	cur := New(dir)
	if previous == "" || previous == cur.Dir() {
		return cur
	}
	return Moved{Current: cur, Previous: New(previous)}
}

// Save writes at the current location.
func (m Moved) Save(ctx context.Context, a domain.Attachment) error { return m.Current.Save(ctx, a) }

// Load reads the current location, then the previous one.
func (m Moved) Load(ctx context.Context, id domain.AttachmentID) (domain.Attachment, error) {
	a, err := m.Current.Load(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return m.Previous.Load(ctx, id)
	}
	return a, err
}

// Delete removes the record from both locations.
func (m Moved) Delete(ctx context.Context, id domain.AttachmentID) error {
	return errors.Join(m.Current.Delete(ctx, id), m.Previous.Delete(ctx, id))
}

// List returns the records of both locations; for an attachment recorded
// in both, the current one.
func (m Moved) List(ctx context.Context) ([]domain.Attachment, error) {
	cur, err := m.Current.List(ctx)
	if err != nil {
		return nil, err
	}
	prev, err := m.Previous.List(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[domain.AttachmentID]bool, len(cur))
	for _, a := range cur {
		seen[a.ID] = true
	}
	for _, a := range prev {
		if !seen[a.ID] {
			cur = append(cur, a)
		}
	}
	return cur, nil
}

// Unreadable lists the unreadable records of both locations.
func (m Moved) Unreadable(ctx context.Context) ([]domain.UnreadableRecord, error) {
	cur, err := m.Current.Unreadable(ctx)
	if err != nil {
		return nil, err
	}
	prev, err := m.Previous.Unreadable(ctx)
	if err != nil {
		return nil, err
	}
	return append(cur, prev...), nil
}
