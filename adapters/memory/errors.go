package memory

// Refusals as the kernel gives them, mapped to the domain's sentinels.

import (
	"errors"
	"fmt"

	"github.com/bondcni/bond/domain"
)

// kernelError is a refusal as the kernel would give it: an errno name, the
// kernel's (extack or dmesg) message, and the domain sentinel the real
// adapters map that errno to.
type kernelError struct {
	op    string
	errno string
	msg   string
	kind  error
}

func (e *kernelError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.op, e.msg, e.errno)
}

func (e *kernelError) Unwrap() error { return e.kind }

// sentinels maps errnos to domain errors as adapters/nlkernel does.
func sentinelOf(errno string) error {
	switch errno {
	case "ENODEV", "ENOENT":
		return domain.ErrNotFound
	case "EEXIST":
		return domain.ErrExists
	case "EBUSY":
		return domain.ErrBusy
	case "EOPNOTSUPP":
		return domain.ErrUnsupported
	case "EADDRNOTAVAIL":
		return domain.ErrMACRefused
	}
	return domain.ErrKernelRefused
}

// refuse builds a kernel-like error for op.
func refuse(op, errno, format string, args ...any) error {
	return &kernelError{op: op, errno: errno, msg: fmt.Sprintf(format, args...), kind: sentinelOf(errno)}
}

// ErrnoOf returns the errno name ("EPERM", "EBUSY", ...) of an error the
// memory kernel refused an operation with, or "" if err is not one.
func ErrnoOf(err error) string {
	var ke *kernelError
	if errors.As(err, &ke) {
		return ke.errno
	}
	return ""
}
