package memory

import (
	"cmp"
	"context"
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
	data, err := domain.EncodeRecord(a)
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
	return decode(id, data)
}

func decode(id domain.AttachmentID, data []byte) (domain.Attachment, error) {
	a, err := domain.DecodeRecord(data)
	if err != nil {
		return domain.Attachment{}, fmt.Errorf("record %s: %w", fileName(id), err)
	}
	return a, nil
}

// PutRaw stores data as id's record as is, for tests of records this
// version cannot read.
func (s *Store) PutRaw(id domain.AttachmentID, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[id] = slices.Clone(data)
}

// fileName is the record's name as the file store would give it.
func fileName(id domain.AttachmentID) string {
	return url.PathEscape(id.ContainerID) + "_" + url.PathEscape(id.IfName) + ".json"
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

// List returns every readable record, in the order the file store's
// directory listing gives (by escaped file name).
func (s *Store) List(ctx context.Context) ([]domain.Attachment, error) {
	out, _, err := s.scan(ctx, "List")
	return out, err
}

// Unreadable lists the records List leaves out.
func (s *Store) Unreadable(ctx context.Context) ([]domain.UnreadableRecord, error) {
	_, bad, err := s.scan(ctx, "Unreadable")
	return bad, err
}

func (s *Store) scan(ctx context.Context, op string) ([]domain.Attachment, []domain.UnreadableRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx, op, false); err != nil {
		return nil, nil, err
	}
	ids := make([]domain.AttachmentID, 0, len(s.recs))
	for id := range s.recs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b domain.AttachmentID) int { return cmp.Compare(fileName(a), fileName(b)) })
	var out []domain.Attachment
	var bad []domain.UnreadableRecord
	for _, id := range ids {
		a, err := decode(id, s.recs[id])
		if err != nil {
			bad = append(bad, domain.UnreadableRecord{File: fileName(id), Err: err.Error()})
			continue
		}
		out = append(out, a)
	}
	return out, bad, nil
}
