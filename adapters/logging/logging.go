// Package logging gives the plugin a slog logger that writes to stderr and,
// once the node settings or a validated network config name one, to log
// files in the node admin's log directory too — never to stdout,
// which carries only the CNI result or error.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bondcni/bond/adapters/safefs"
)

// Sink is a slog handler whose level and file can be set after start-up,
// when the config has been read.
type Sink struct {
	level  slog.LevelVar
	mu     sync.Mutex
	stderr io.Writer
	files  []*os.File
}

// New returns a sink writing to stderr at level (debug, info, warn, error;
// default warn, so the runtime's logs stay quiet).
func New(stderr io.Writer, level string) *Sink {
	s := &Sink{stderr: stderr}
	s.level.Set(ParseLevel(level, slog.LevelWarn))
	return s
}

// ParseLevel reads a level name, returning def if it is not one.
func ParseLevel(name string, def slog.Level) slog.Level {
	switch strings.ToLower(name) {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return def
}

// LowerLevel makes the sink more verbose if name is a level below the
// current one, and otherwise leaves it: a network config may ask for more
// of its own calls' logs, never silence what the node admin's level keeps
// (a tenant's failed calls, for one).
func (s *Sink) LowerLevel(name string) {
	if l := ParseLevel(name, s.level.Level()); l < s.level.Level() {
		s.level.Set(l)
	}
}

// AddFile also appends logs to the file name inside dir, the node admin's
// log directory (created 0700 if missing; refused unless it is root's and
// writable by nobody else). The file is opened without following a
// symlink, without blocking on a FIFO, and only if it is a regular file
// owned by root. Adding the same file twice opens it once.
func (s *Sink) AddFile(dir, name string) error {
	if err := safefs.EnsureDir(dir, safefs.NotShared); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	p := filepath.Join(dir, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if f.Name() == p {
			return nil
		}
	}
	f, err := safefs.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	s.files = append(s.files, f)
	return nil
}

// Close closes the log files.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files = nil
	return errors.Join(errs...)
}

// Write sends one formatted record to stderr and the file.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		_, _ = f.Write(p)
	}
	return s.stderr.Write(p)
}

// Handler returns the slog handler feeding this sink.
func (s *Sink) Handler() slog.Handler {
	return slog.NewTextHandler(s, &slog.HandlerOptions{Level: &s.level})
}

// Logger returns a logger on this sink tagged with the plugin's name and pid.
func (s *Sink) Logger() *slog.Logger {
	return slog.New(s.Handler()).With("plugin", "bond", "pid", os.Getpid())
}
