package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Store is a ports.Store in memory. Records go through JSON as on disk
// (adapters/state), so what the file store would not keep (LinkState.MAC,
// the monotonic clock) is not kept here either, and callers never share
// memory with it. Safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	recs map[domain.AttachmentID][]byte
	f    faults
}

var _ ports.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store { return &Store{recs: map[domain.AttachmentID][]byte{}} }

// FailAfter makes the call after the next n mutating ones (Save, Delete)
// fail with an error wrapping err, changing nothing. One-shot.
func (s *Store) FailAfter(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.failAfter(n, err)
}

// FailOn makes the nth next call of op ("Save", "Load", "Delete", "List")
// fail with an error wrapping err, changing nothing. One-shot.
func (s *Store) FailOn(op string, nth int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.failOn(op, nth, err)
}

// ClearFaults disarms every pending failure.
func (s *Store) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.clear()
}

// Injected lists the operations that failed by injection so far.
func (s *Store) Injected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.firedOps()
}

// Len is the number of records.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

func (s *Store) begin(ctx context.Context, op string, mutating bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.f.hit(op, mutating)
}

// Save stores (or replaces) a record.
func (s *Store) Save(ctx context.Context, a domain.Attachment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "Save", true); err != nil {
		return err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	s.recs[a.ID] = data
	return nil
}

// Load returns a record, or an error wrapping domain.ErrNotFound.
func (s *Store) Load(ctx context.Context, id domain.AttachmentID) (domain.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "Load", false); err != nil {
		return domain.Attachment{}, err
	}
	data, ok := s.recs[id]
	if !ok {
		return domain.Attachment{}, fmt.Errorf("record %s/%s: %w", id.ContainerID, id.IfName, domain.ErrNotFound)
	}
	return decode(data)
}

func decode(data []byte) (domain.Attachment, error) {
	var a domain.Attachment
	if err := json.Unmarshal(data, &a); err != nil {
		return domain.Attachment{}, fmt.Errorf("record is corrupt: %w", err)
	}
	return a, nil
}

// Delete removes a record; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, id domain.AttachmentID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "Delete", true); err != nil {
		return err
	}
	delete(s.recs, id)
	return nil
}

// List returns every record, in the order the file store's directory
// listing gives (by escaped file name).
func (s *Store) List(ctx context.Context) ([]domain.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, "List", false); err != nil {
		return nil, err
	}
	ids := make([]domain.AttachmentID, 0, len(s.recs))
	for id := range s.recs {
		ids = append(ids, id)
	}
	fileName := func(id domain.AttachmentID) string {
		return url.PathEscape(id.ContainerID) + "_" + url.PathEscape(id.IfName) + ".json"
	}
	slices.SortFunc(ids, func(a, b domain.AttachmentID) int { return cmp.Compare(fileName(a), fileName(b)) })
	var out []domain.Attachment
	for _, id := range ids {
		a, err := decode(s.recs[id])
		if err != nil {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}
