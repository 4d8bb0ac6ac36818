package httpdebug

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
)

// The node_exporter textfile collector is how a cluster's Prometheus gets
// the daemon's metrics without the daemon leaving loopback: node_exporter,
// already scraped on every node, reads *.prom files from a directory and
// serves them as its own. The daemon writes one such file.

// WriteTextfile writes the daemon's own metrics (bondcni_*; node_exporter
// serves its own go_* and process_*, and a clash would fail its scrape) to
// path in the Prometheus text format, atomically: a temporary file in the
// same directory, renamed over path, so node_exporter reads the old file or
// the new one, never half of one. The temporary name does not end in
// ".prom", so node_exporter never reads it.
//
// There is no fsync: the file is rewritten every interval and removed at
// shutdown, so after a power loss a stale or empty file is replaced within
// one interval, and an fsync would cost a disk flush per interval on every
// node for nothing.
func (s *Server) WriteTextfile(path string) error {
	mfs, err := s.reg.Gather()
	if err != nil && len(mfs) == 0 {
		return fmt.Errorf("gathering metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), MetricPrefix) {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encoding %s: %w", mf.GetName(), err)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing metrics file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	// node_exporter runs as another user (nobody, in most charts).
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing metrics file: %w", err)
	}
	return nil
}

// StartTextfile writes the metrics file now, then every interval in the
// background until stop is called; stop waits for the writer and removes
// the file, so node_exporter does not serve the numbers of a daemon that
// is no longer there. A failed write is logged and retried at the next
// interval.
func (s *Server) StartTextfile(path string, interval time.Duration) (stop func()) {
	write := func() {
		if err := s.WriteTextfile(path); err != nil {
			s.log.Warn("textfile collector", "path", path, "err", err)
		}
	}
	write()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				write()
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			s.log.Warn("removing the metrics file", "path", path, "err", err)
		}
	}
}
