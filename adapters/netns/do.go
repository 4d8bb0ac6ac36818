package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// Do runs fn inside ns on a dedicated goroutine locked to its OS thread,
// then switches the thread back. The thread is handed back to the runtime
// only if switching back worked; otherwise it stays locked and dies with the
// goroutine, so no other goroutine ever runs in ns by accident.
//
// Goroutines that fn starts do not run in ns.
func Do(ns domain.Netns, fn func() error) error {
	target, err := Open(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	return run(target, false, fn)
}

// DoIsolated is Do on a thread that also gets a private mount namespace
// (unshare CLONE_NEWNS, "/" made private recursively), so fn may mount
// things (a sysfs showing ns) without the host seeing them. The thread is
// never handed back: it dies with the goroutine.
func DoIsolated(ns domain.Netns, fn func() error) error {
	target, err := Open(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	return run(target, true, fn)
}

func run(target *os.File, isolate bool, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Unlocking is explicit below; a goroutine that exits locked takes
		// its thread with it.
		runtime.LockOSThread()
		errc <- runLocked(target, isolate, fn)
	}()
	return <-errc
}

// runLocked runs on a locked thread. It unlocks only when the thread is back
// in its original state.
func runLocked(target *os.File, isolate bool, fn func() error) error {
	origin, err := openThread()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer origin.Close()
	if isolate {
		if err := isolateMounts(); err != nil {
			return err // the thread may be half changed: let it die
		}
	}
	if err := vnetns.Set(vnetns.NsHandle(target.Fd())); err != nil {
		if !isolate {
			runtime.UnlockOSThread() // setns failed: the thread did not move
		}
		return fmt.Errorf("entering netns %s: %w", target.Name(), err)
	}
	ferr := fn()
	if isolate {
		return ferr
	}
	if err := vnetns.Set(vnetns.NsHandle(origin.Fd())); err != nil {
		return errors.Join(ferr, fmt.Errorf("returning from netns %s (thread discarded): %w", target.Name(), err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// isolateMounts gives the calling thread its own mount namespace in which
// mounts do not propagate back to the host.
func isolateMounts() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private in the new mount namespace: %w", err)
	}
	return nil
}
