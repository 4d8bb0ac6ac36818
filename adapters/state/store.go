// Package state keeps attachment records as one JSON file per attachment
// under a directory (default /run/bond-cni/state, cleared at boot like the
// kernel objects the records describe). Writes are atomic (write a
// temporary file, rename it into place) so a crash of the plugin leaves
// either the old record or the new one, never a torn file. They are
// fsynced only where a record can outlive a reboot (see durable.go).
// Moved also reads the records an earlier version kept elsewhere.
package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bondcni/bond/adapters/safefs"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// DefaultDir is where records live unless configured otherwise: under
// /run, which is cleared at boot, as are the pods, bonds and link moves
// the records describe.
const DefaultDir = "/run/bond-cni/state"

// PreviousDir is where earlier versions kept their records; they are
// still read (and removed) there, so an upgrade strands no attachment.
const PreviousDir = "/var/lib/cni/bond"

const suffix = ".json"

// Store is a ports.Store on the filesystem.
type Store struct {
	dir     string
	durable durability
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

// Save writes the record atomically, stamped with domain.RecordVersion.
// The directory is created 0700, made private if it is root's but
// readable by others, and refused if others can write it: whoever can
// write a record decides which links DEL moves.
func (s *Store) Save(_ context.Context, a domain.Attachment) error {
	data, err := domain.EncodeRecord(a)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	if err := safefs.EnsureDir(s.dir, safefs.Private); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	final := s.fileName(a.ID)
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary record: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing record: %w", err)
	}
	durable := s.durable.of(s.dir)
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("syncing record: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing record: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("renaming record into place: %w", err)
	}
	renamed = true
	if !durable {
		return nil
	}
	return syncDir(s.dir)
}

// Load reads one record.
func (s *Store) Load(_ context.Context, id domain.AttachmentID) (domain.Attachment, error) {
	return s.read(s.fileName(id))
}

// read opens a record without following a symlink and only if it is a
// regular file owned by root, and decodes it strictly (any version this
// plugin knows). An unreadable record wraps domain.ErrUnreadable and names
// the file.
func (s *Store) read(path string) (domain.Attachment, error) {
	if err := s.checkDir(); err != nil {
		return domain.Attachment{}, err
	}
	f, err := safefs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return domain.Attachment{}, fmt.Errorf("record %s: %w", filepath.Base(path), domain.ErrNotFound)
	}
	if err != nil {
		return domain.Attachment{}, fmt.Errorf("record %s: %w: %w", path, domain.ErrUnreadable, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecordBytes+1))
	if err != nil {
		return domain.Attachment{}, fmt.Errorf("record %s: reading: %w", path, err)
	}
	if len(data) > maxRecordBytes {
		return domain.Attachment{}, fmt.Errorf("record %s: larger than %d bytes: %w", path, maxRecordBytes, domain.ErrUnreadable)
	}
	a, err := domain.DecodeRecord(data)
	if err != nil {
		return domain.Attachment{}, fmt.Errorf("record %s: %w", path, err)
	}
	return a, nil
}

// maxRecordBytes bounds a record: it holds one network config (at most
// domain.MaxConfigBytes, escaped) and a few links.
const maxRecordBytes = 4 * domain.MaxConfigBytes

// checkDir refuses a state directory someone other than root could write
// records in; a missing one is fine (nothing recorded yet). Save makes it
// private.
func (s *Store) checkDir() error {
	err := safefs.CheckDir(s.dir, safefs.NotShared)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("state dir: %w", err)
}

// Delete removes a record; a missing one is not an error.
func (s *Store) Delete(_ context.Context, id domain.AttachmentID) error {
	err := os.Remove(s.fileName(id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing record: %w", err)
	}
	if err == nil && s.durable.of(s.dir) {
		return syncDir(s.dir)
	}
	return nil
}

// List returns every readable record; Unreadable lists the others.
func (s *Store) List(_ context.Context) ([]domain.Attachment, error) {
	out, _, err := s.scan()
	return out, err
}

// Unreadable lists the record files List leaves out, and why.
func (s *Store) Unreadable(_ context.Context) ([]domain.UnreadableRecord, error) {
	_, bad, err := s.scan()
	return bad, err
}

func (s *Store) scan() ([]domain.Attachment, []domain.UnreadableRecord, error) {
	if err := s.checkDir(); err != nil {
		return nil, nil, err
	}
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing records: %w", err)
	}
	var out []domain.Attachment
	var bad []domain.UnreadableRecord
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), suffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(s.dir, e.Name())
		a, err := s.read(p)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			// Removed by a DEL meanwhile.
		case err != nil:
			bad = append(bad, domain.UnreadableRecord{File: p, Err: err.Error()})
		default:
			out = append(out, a)
		}
	}
	return out, bad, nil
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
