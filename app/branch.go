package app

// branch is work running on its own goroutine beside the caller's: IPAM
// ADD beside the kernel steps of ADD, IPAM DEL beside those of DEL.
type branch struct {
	finished chan struct{}
	err      error
	panicked any
}

// goBranch starts fn, then calls then (if set) once the branch is seen as
// finished. A panic in fn is kept and re-raised by wait on the caller's
// goroutine, where the CNI adapter turns it into an error JSON (a panic
// left on its own goroutine would kill the plugin mid-output).
func goBranch(fn func() error, then func()) *branch {
	b := &branch{finished: make(chan struct{})}
	go func() {
		if then != nil {
			defer then()
		}
		defer close(b.finished)
		defer func() { b.panicked = recover() }()
		b.err = fn()
	}()
	return b
}

// wait blocks until the branch has finished and returns its error.
func (b *branch) wait() error {
	<-b.finished
	if p := b.panicked; p != nil {
		b.panicked = nil
		panic(p)
	}
	return b.err
}

// done tells, without blocking, whether the branch has finished.
func (b *branch) done() bool {
	select {
	case <-b.finished:
		return true
	default:
		return false
	}
}
