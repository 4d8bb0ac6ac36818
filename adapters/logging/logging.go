// Package logging gives the plugin a slog logger that writes to stderr and,
// once the network config names one, to a log file too — never to stdout,
// which carries only the CNI result or error.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Sink is a slog handler whose level and file can be set after start-up,
// when the config has been read.
type Sink struct {
	level  slog.LevelVar
	mu     sync.Mutex
	stderr io.Writer
	file   *os.File
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

// Configure sets the level (if non-empty) and opens the log file (if
// non-empty) for appending. A file that cannot be opened is reported on
// stderr and otherwise ignored: logging must never fail a CNI call.
func (s *Sink) Configure(level, file string) {
	if level != "" {
		s.level.Set(ParseLevel(level, s.level.Level()))
	}
	if file == "" {
		return
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		slog.New(s.Handler()).Warn("cannot open log file", "file", file, "err", err)
		return
	}
	s.mu.Lock()
	if s.file != nil {
		s.file.Close()
	}
	s.file = f
	s.mu.Unlock()
}

// Close closes the log file, if any.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// Write sends one formatted record to stderr and the file.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		_, _ = s.file.Write(p)
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
