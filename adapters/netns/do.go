package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	vnetns "github.com/vishvananda/netns"

	"github.com/bondcni/bond/domain"
)

// Do runs fn inside ns on a dedicated goroutine locked to its OS thread,
// then switches the thread back. The thread is handed back to the runtime
// only if switching back worked; otherwise it stays locked and dies with the
// goroutine, so no other goroutine ever runs in ns by accident.
//
// Goroutines that fn starts do not run in ns.
//
// For domain.HostNetns no switch is needed: every thread outside Do is in
// the process's namespace, so fn runs on a fresh locked thread as it is.
func Do(ns domain.Netns, fn func() error) error {
	if ns == domain.HostNetns {
		return onFreshThread(fn)
	}
	target, err := Open(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	return run(target, fn)
}

func run(target *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Unlocking is explicit below; a goroutine that exits locked takes
		// its thread with it.
		runtime.LockOSThread()
		errc <- runLocked(target, fn)
	}()
	return <-errc
}

// onFreshThread runs fn on a new goroutine locked to its thread: one that
// is known not to be inside Do (see the package comment).
func onFreshThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// runLocked runs on a locked thread. It unlocks only when the thread is back
// in its original state.
func runLocked(target *os.File, fn func() error) error {
	origin, err := openThread()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer origin.Close()
	if err := vnetns.Set(vnetns.NsHandle(target.Fd())); err != nil {
		runtime.UnlockOSThread() // setns failed: the thread did not move
		return fmt.Errorf("entering netns %s: %w", target.Name(), err)
	}
	ferr := fn()
	if err := vnetns.Set(vnetns.NsHandle(origin.Fd())); err != nil {
		return errors.Join(ferr, fmt.Errorf("returning from netns %s (thread discarded): %w", target.Name(), err))
	}
	runtime.UnlockOSThread()
	return ferr
}
