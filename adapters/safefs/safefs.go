// Package safefs holds the file-system checks the root plugin makes before
// it trusts a directory or a file it writes: the node's records, locks and
// logs must not be redirectable through symlinks, FIFOs or directories
// someone else can write.
package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Perm says which permission bits a trusted directory must not have.
type Perm fs.FileMode

const (
	// Private: no access for group or others (records, locks).
	Private Perm = 0o077
	// NotShared: group and others may read but not write (logs).
	NotShared Perm = 0o022
)

// EnsureDir creates dir (and missing parents) with mode 0700 if it does not
// exist, and refuses it unless it is a real directory (not a symlink) owned
// by root that nobody else can write. Read or search bits among forbidden
// are removed rather than refused: only root could have made such a
// directory (kubelet's hostPath DirectoryOrCreate makes them 0755), so
// nothing in it can be forged, and making it private is safe.
func EnsureDir(dir string, forbidden Perm) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if err := checkDirInfo(dir, fi, forbidden&NotShared); err != nil {
		return err
	}
	if extra := fi.Mode().Perm() & fs.FileMode(forbidden); extra != 0 {
		if err := os.Chmod(dir, fi.Mode().Perm()&^fs.FileMode(forbidden)); err != nil {
			return fmt.Errorf("making %s private: %w", dir, err)
		}
	}
	return nil
}

// CheckDir refuses dir unless it is a directory (not a symlink to one),
// owned by root, without the forbidden permission bits. Readers pass
// NotShared: what matters for trusting the content is who can write it.
func CheckDir(dir string, forbidden Perm) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	return checkDirInfo(dir, fi, forbidden)
}

// checkDirInfo is CheckDir on what Lstat said of dir.
func checkDirInfo(dir string, fi fs.FileInfo, forbidden Perm) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink; want a directory owned by root", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if uid := owner(fi); uid != 0 {
		return fmt.Errorf("%s is owned by uid %d; want root (0)", dir, uid)
	}
	if bad := fi.Mode().Perm() & fs.FileMode(forbidden); bad != 0 {
		return fmt.Errorf("%s has mode %04o; want none of %04o (chmod go-rwx)", dir, fi.Mode().Perm(), fs.FileMode(forbidden))
	}
	return nil
}

// OpenFile opens path without following a symlink in its last component
// and without blocking on a FIFO, then refuses it unless it is a regular
// file owned by root. flag is added to O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC;
// O_CREAT creates it with perm. It never truncates: O_TRUNC is refused.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if flag&os.O_TRUNC != 0 {
		return nil, errors.New("safefs: O_TRUNC is not allowed")
	}
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symlink; refusing to follow it: %w", path, err)
	}
	if errors.Is(err, unix.ENXIO) {
		return nil, fmt.Errorf("%s is a FIFO or socket; want a regular file: %w", path, err)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is a %s; want a regular file", path, fi.Mode().Type())
	}
	if uid := owner(fi); uid != 0 {
		f.Close()
		return nil, fmt.Errorf("%s is owned by uid %d; want root (0)", path, uid)
	}
	// Regular files ignore O_NONBLOCK, but clear it anyway so writes block
	// as usual.
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func owner(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}
