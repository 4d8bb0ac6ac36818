// Package state keeps attachment records as one JSON file per attachment
// under a directory (default /var/lib/cni/bond). Writes are atomic (write a
// temporary file, fsync, rename, fsync the directory) so a crash leaves
// either the old record or the new one, never a torn file.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// DefaultDir is where records live unless configured otherwise.
const DefaultDir = "/var/lib/cni/bond"

const suffix = ".json"

// Store is a ports.Store on the filesystem.
type Store struct {
	dir string
}

var _ ports.Store = (*Store)(nil)

// New returns a store rooted at dir (created on first write).
func New(dir string) *Store {
	if dir == "" {
		dir = DefaultDir
	}
	return &Store{dir: dir}
}

// Dir is the directory holding the records.
func (s *Store) Dir() string { return s.dir }

// fileName maps an ID to one file name, injectively: each part keeps
// letters, digits and '-' and %-escapes every other byte (so '_' only ever
// separates the parts, and no name starts with '.' like a temporary file).
func (s *Store) fileName(id domain.AttachmentID) string {
	return filepath.Join(s.dir, escape(id.ContainerID)+"_"+escape(id.IfName)+suffix)
}

func escape(part string) string {
	var b strings.Builder
	for i := 0; i < len(part); i++ {
		c := part[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Save writes the record atomically.
func (s *Store) Save(_ context.Context, a domain.Attachment) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	final := s.fileName(a.ID)
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary record: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing record: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing record: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing record: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("renaming record into place: %w", err)
	}
	return syncDir(s.dir)
}

// Load reads one record.
func (s *Store) Load(_ context.Context, id domain.AttachmentID) (domain.Attachment, error) {
	return s.read(s.fileName(id))
}

func (s *Store) read(path string) (domain.Attachment, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return domain.Attachment{}, fmt.Errorf("record %s: %w", filepath.Base(path), domain.ErrNotFound)
	}
	if err != nil {
		return domain.Attachment{}, fmt.Errorf("reading record: %w", err)
	}
	var a domain.Attachment
	if err := json.Unmarshal(data, &a); err != nil {
		return domain.Attachment{}, fmt.Errorf("record %s is corrupt: %w", path, err)
	}
	return a, nil
}

// Delete removes a record; a missing one is not an error.
func (s *Store) Delete(_ context.Context, id domain.AttachmentID) error {
	err := os.Remove(s.fileName(id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing record: %w", err)
	}
	if err == nil {
		return syncDir(s.dir)
	}
	return nil
}

// List returns every readable record; corrupt files are skipped.
func (s *Store) List(_ context.Context) ([]domain.Attachment, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing records: %w", err)
	}
	var out []domain.Attachment
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), suffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		a, err := s.read(filepath.Join(s.dir, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening state dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing state dir: %w", err)
	}
	return nil
}
