package nlkernel

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/domain"
)

// ErrNotBond is returned (wrapped) by Bond when the named link exists but is
// not a bond.
var ErrNotBond = domain.ErrNotBond

// opError is a failed rtnetlink operation. Its text is "op: kernel error"
// (with the kernel's extack message, the socket being strict); errors.Is
// matches both the errno and the domain sentinel it maps to.
type opError struct {
	op   string
	err  error
	kind error // a domain sentinel, or nil
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }

func (e *opError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// wrap names the operation that failed and maps the kernel's errno to a
// domain sentinel. nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err, kind: sentinel(err)}
}

// sentinel maps an errno to the domain error callers test for: absent
// links and namespaces, taken names, busy links, missing drivers; any other
// errno is a refusal.
func sentinel(err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return nil
	}
	switch errno {
	case unix.ENODEV, unix.ENOENT:
		return domain.ErrNotFound
	case unix.EEXIST:
		return domain.ErrExists
	case unix.EBUSY:
		return domain.ErrBusy
	case unix.EOPNOTSUPP:
		return domain.ErrUnsupported
	case unix.EADDRNOTAVAIL:
		return domain.ErrMACRefused
	}
	return domain.ErrKernelRefused
}
