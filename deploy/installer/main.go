// Command bond-install puts the bond CNI plugin into a node's CNI bin
// directory. It is the entrypoint of the bond image (deploy/Dockerfile) and
// runs in the DaemonSet of deploy/daemonset.yaml, with the host's
// /opt/cni/bin mounted at /host/opt/cni/bin.
//
// Each file is installed atomically: copied to a temporary name in the
// destination directory, fsynced, renamed over the final name, and the
// directory fsynced. A runtime that execs the plugin meanwhile gets either
// the old binary or the new one, never a half-written file (the old
// bond-cni image used "cp -f", which truncates the live file in place).
// A file that is already identical is left alone.
//
// After installing, bond-install waits for SIGTERM (so the DaemonSet pod
// stays Running) and re-checks the installed files every -interval,
// reinstalling any that went missing or were replaced. With -check it only
// verifies (a readiness probe); with -uninstall it removes the files (and
// -check -uninstall verifies they are gone), and
// refuses to while the node still has bond attachments recorded, because a
// pod whose plugin binary is gone can never be torn down (its DEL fails).
//
// Environment, kept from the old bond-cni image's entrypoint:
// CNI_BIN_DIR sets the default of -dest, SLEEP=false the default of -sleep.
//
// Only the standard library is used: the final image has no shell.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tmpMarker is part of every temporary file name, so a later run can clean
// up what a killed run left behind.
const tmpMarker = ".bond-install-"

// staleAfter is how old a temporary file must be before it counts as
// abandoned (a second installer on the node, during a rolling update with
// surge, may be writing it right now).
const staleAfter = 10 * time.Minute

type options struct {
	src, dest, stateDir string
	files               []string
	sleep, check        bool
	uninstall, force    bool
	interval            time.Duration
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetPrefix("bond-install: ")
	opts, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, opts, log.Default()); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func parseFlags(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bond-install", flag.ContinueOnError)
	dest := getenv("CNI_BIN_DIR")
	if dest == "" {
		dest = "/host/opt/cni/bin"
	}
	sleep := getenv("SLEEP") != "false"
	files := "bond"
	fs.StringVar(&o.src, "src", "/opt/bond/bin", "directory holding the binaries to install")
	fs.StringVar(&o.dest, "dest", dest, "the node's CNI bin directory, as mounted in this container ($CNI_BIN_DIR)")
	fs.StringVar(&files, "files", files, "comma-separated names of the files to install from -src")
	fs.BoolVar(&o.sleep, "sleep", sleep, "after installing, wait for SIGTERM and keep the files installed (SLEEP=false sets false)")
	fs.DurationVar(&o.interval, "interval", time.Minute, "while sleeping, how often to re-check the installed files (0: never)")
	fs.BoolVar(&o.check, "check", false, "only verify that every file is installed and identical (with -uninstall: that none is left); exit status 1 if not")
	fs.BoolVar(&o.uninstall, "uninstall", false, "remove the files from -dest instead of installing them")
	fs.StringVar(&o.stateDir, "state-dir", "/host/var/lib/cni/bond", "the node's bond attachment records, as mounted here (checked by -uninstall)")
	fs.BoolVar(&o.force, "force", false, "with -uninstall: remove the files even while attachments are recorded")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, f := range strings.Split(files, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f != filepath.Base(f) || f == "." || f == ".." {
			return o, fmt.Errorf("-files: %q is not a plain file name", f)
		}
		o.files = append(o.files, f)
	}
	if len(o.files) == 0 {
		return o, errors.New("-files: no file named")
	}
	if o.interval < 0 {
		return o, errors.New("-interval: must not be negative")
	}
	return o, nil
}

func run(ctx context.Context, o options, l *log.Logger) error {
	switch {
	case o.check && o.uninstall:
		return verifyRemoved(o)
	case o.check:
		return verify(o)
	case o.uninstall:
		if err := uninstall(o, l); err != nil {
			return err
		}
	default:
		if err := installAll(o, l); err != nil {
			return err
		}
	}
	if !o.sleep {
		return nil
	}
	l.Printf("done; waiting for SIGTERM")
	var tick <-chan time.Time
	if o.interval > 0 && !o.uninstall {
		t := time.NewTicker(o.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			l.Printf("stopping; the installed files stay in place")
			return nil
		case <-tick:
			// A failure here is logged, not fatal: the files that are in
			// place keep working, and the next tick tries again.
			if err := installAll(o, l); err != nil {
				l.Print(err)
			}
		}
	}
}

// installAll installs every file and says what it did.
func installAll(o options, l *log.Logger) error {
	removeStale(o.dest, l)
	for _, name := range o.files {
		changed, err := install(filepath.Join(o.src, name), o.dest, name)
		if err != nil {
			return err
		}
		if changed {
			l.Printf("installed %s", filepath.Join(o.dest, name))
		}
	}
	return nil
}

// verify returns nil when every file in dest is identical to its source.
func verify(o options) error {
	for _, name := range o.files {
		same, err := identical(filepath.Join(o.src, name), filepath.Join(o.dest, name))
		if err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("%s is missing or differs from %s", filepath.Join(o.dest, name), filepath.Join(o.src, name))
		}
	}
	return nil
}

// verifyRemoved returns nil when no file is left in dest.
func verifyRemoved(o options) error {
	for _, name := range o.files {
		p := filepath.Join(o.dest, name)
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s is still there", p)
		}
	}
	return nil
}

// install copies src to dir/name atomically unless it is already there.
// It reports whether it wrote anything.
func install(src, dir, name string) (bool, error) {
	dst := filepath.Join(dir, name)
	same, err := identical(src, dst)
	if err != nil {
		return false, err
	}
	if same {
		return false, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, "."+name+tmpMarker+"*")
	if err != nil {
		return false, fmt.Errorf("creating a temporary file in %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return false, fmt.Errorf("copying %s to %s: %w", src, tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return false, err
	}
	done = true
	return true, syncDir(dir)
}

// uninstall removes the files, unless the node still has attachments.
func uninstall(o options, l *log.Logger) error {
	recs, err := records(o.stateDir)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		shown := recs[:min(len(recs), 5)]
		msg := fmt.Sprintf("%d bond attachment(s) still recorded in %s (%s); delete the pods using bond networks first, or pass -force",
			len(recs), o.stateDir, strings.Join(shown, ", "))
		if !o.force {
			return errors.New(msg)
		}
		l.Printf("-force: %s", msg)
	}
	removeStale(o.dest, l)
	for _, name := range o.files {
		dst := filepath.Join(o.dest, name)
		switch err := os.Remove(dst); {
		case err == nil:
			l.Printf("removed %s", dst)
		case errors.Is(err, os.ErrNotExist):
		default:
			return err
		}
	}
	return syncDir(o.dest)
}

// records lists the attachment records (*.json) in dir; a missing dir has
// none.
func records(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the attachment records: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// identical reports whether b exists and has a's content and is
// executable. A missing a is an error; a missing b is not.
func identical(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	if !sa.Mode().IsRegular() {
		return false, fmt.Errorf("%s is not a regular file", a)
	}
	sb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !sb.Mode().IsRegular() || sb.Size() != sa.Size() || sb.Mode().Perm()&0o111 == 0 {
		return false, nil
	}
	ha, err := hashFile(a)
	if err != nil {
		return false, err
	}
	hb, err := hashFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ha, hb), nil
}

func hashFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// removeStale deletes temporary files an earlier, killed run left in dir.
func removeStale(dir string, l *log.Logger) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), tmpMarker) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleAfter {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if os.Remove(p) == nil {
			l.Printf("removed %s, left by an interrupted run", p)
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
