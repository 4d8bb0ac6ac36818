// Command bond-install puts the bond CNI plugin into a node's CNI bin
// directory. It is the entrypoint of the bond image (deploy/Dockerfile) and
// runs in the DaemonSet of deploy/kustomize/base, with the host's
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
// With -node-settings it also installs the node settings file (from the
// bond-node-settings ConfigMap) as node.json in -node-settings-dir, the
// host's /etc/cni/bond.d, after decoding it as strictly as the plugin does:
// an invalid file is not installed (the node keeps its previous one, and
// -check fails, so the pod is not Ready).
//
// Environment, kept from the old bond-cni image's entrypoint:
// CNI_BIN_DIR sets the default of -dest, SLEEP=false the default of -sleep.
//
// Only the standard library and the plugin's own node-file decoder are
// used: the final image has no shell.
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

	"github.com/bondcni/bond/adapters/nodefile"
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
	nodeSrc, nodeDir    string
	prevStateDir        string // where earlier plugin versions kept records
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
	fs.StringVar(&o.stateDir, "state-dir", "/host/run/bond-cni/state", "the node's bond attachment records, as mounted here (checked by -uninstall)")
	fs.StringVar(&o.prevStateDir, "previous-state-dir", "/host/var/lib/cni/bond", "where earlier plugin versions kept their records, as mounted here (checked by -uninstall too; empty: none)")
	fs.StringVar(&o.nodeSrc, "node-settings", "", "node settings file to install as node.json (the bond-node-settings ConfigMap's); empty: do not manage it")
	fs.StringVar(&o.nodeDir, "node-settings-dir", "/host/etc/cni/bond.d", "the node's node-settings directory, as mounted here (the plugin reads /etc/cni/bond.d/node.json)")
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
	return installNodeSettings(o, l)
}

// nodeSettingsName is the file the plugin reads in its settings directory.
const nodeSettingsName = "node.json"

// installNodeSettings installs -node-settings as node.json if it is valid.
// No source (the ConfigMap is optional) leaves the host's file alone.
func installNodeSettings(o options, l *log.Logger) error {
	if o.nodeSrc == "" {
		return nil
	}
	data, err := os.ReadFile(o.nodeSrc)
	if errors.Is(err, os.ErrNotExist) {
		l.Printf("no node settings at %s; leaving %s as it is", o.nodeSrc, filepath.Join(o.nodeDir, nodeSettingsName))
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := nodefile.Decode(data); err != nil {
		return fmt.Errorf("node settings %s are invalid, not installed: %w", o.nodeSrc, err)
	}
	changed, err := installFile(o.nodeSrc, o.nodeDir, nodeSettingsName, 0o644)
	if err != nil {
		return err
	}
	if changed {
		l.Printf("installed %s", filepath.Join(o.nodeDir, nodeSettingsName))
	}
	return nil
}

// verify returns nil when every file in dest is identical to its source,
// and the node settings (if managed) are valid and installed.
func verify(o options) error {
	if o.nodeSrc != "" {
		data, err := os.ReadFile(o.nodeSrc)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			if _, err := nodefile.Decode(data); err != nil {
				return fmt.Errorf("node settings %s are invalid: %w", o.nodeSrc, err)
			}
			dst := filepath.Join(o.nodeDir, nodeSettingsName)
			if same, err := identicalWith(o.nodeSrc, dst, func(m os.FileMode) bool { return m.Perm() == 0o644 }); err != nil || !same {
				return fmt.Errorf("%s is missing or differs from %s (%v)", dst, o.nodeSrc, err)
			}
		}
	}
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

// install copies the executable src to dir/name atomically unless it is
// already there. It reports whether it wrote anything.
func install(src, dir, name string) (bool, error) { return installFile(src, dir, name, 0o755) }

// installFile copies src to dir/name with mode, atomically, unless it is
// already there.
func installFile(src, dir, name string, mode os.FileMode) (bool, error) {
	dst := filepath.Join(dir, name)
	same, err := identicalWith(src, dst, func(m os.FileMode) bool {
		if mode&0o111 != 0 {
			return m.Perm()&0o111 != 0
		}
		return m.Perm() == mode
	})
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
	if err := tmp.Chmod(mode); err != nil {
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
	var recs []string
	var where []string
	for _, dir := range []string{o.stateDir, o.prevStateDir} {
		if dir == "" {
			continue
		}
		r, err := records(dir)
		if err != nil {
			return err
		}
		if len(r) > 0 {
			recs = append(recs, r...)
			where = append(where, dir)
		}
	}
	if len(recs) > 0 {
		shown := recs[:min(len(recs), 5)]
		msg := fmt.Sprintf("%d bond attachment(s) still recorded in %s (%s); delete the pods using bond networks first, or pass -force",
			len(recs), strings.Join(where, " and "), strings.Join(shown, ", "))
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
	return identicalWith(a, b, func(m os.FileMode) bool { return m.Perm()&0o111 != 0 })
}

// identicalWith is identical with permOK judging the installed file's mode.
func identicalWith(a, b string, permOK func(os.FileMode) bool) (bool, error) {
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
	if !sb.Mode().IsRegular() || sb.Size() != sa.Size() || !permOK(sb.Mode()) {
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
