package memory

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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

// InjectedError is what a call armed by FailAfter or FailOn returns; it
// wraps the error given there.
type InjectedError struct {
	Op  string // the operation that failed
	N   int    // its call number (1-based, per operation name)
	Err error
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("%s (call %d): injected failure: %v", e.Op, e.N, e.Err)
}

func (e *InjectedError) Unwrap() error { return e.Err }

// faultRule arms one failure: the call whose counter reaches at fails.
type faultRule struct {
	op  string // "" = any mutating operation
	at  int
	err error
}

// faults counts calls and fires armed failures; the owner's mutex guards it.
type faults struct {
	mutating int            // mutating calls so far
	calls    map[string]int // calls per operation name
	rules    []faultRule
	fired    []string
}

// failAfter arms a one-shot failure of the mutating call after the next n.
func (f *faults) failAfter(n int, err error) {
	f.rules = append(f.rules, faultRule{at: f.mutating + n + 1, err: err})
}

// failOn arms a one-shot failure of the nth next call of op.
func (f *faults) failOn(op string, nth int, err error) {
	if nth < 1 {
		nth = 1
	}
	f.rules = append(f.rules, faultRule{op: op, at: f.calls[op] + nth, err: err})
}

func (f *faults) clear() { f.rules = nil }

// hit counts a call of op and returns the armed error for it, if any.
func (f *faults) hit(op string, mutating bool) error {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	if mutating {
		f.mutating++
	}
	for i, r := range f.rules {
		var match bool
		if r.op == "" {
			match = mutating && f.mutating == r.at
		} else {
			match = r.op == op && f.calls[op] == r.at
		}
		if match {
			f.rules = slices.Delete(f.rules, i, i+1)
			f.fired = append(f.fired, op)
			return &InjectedError{Op: op, N: f.calls[op], Err: r.err}
		}
	}
	return nil
}

func (f *faults) pending() int { return len(f.rules) }

func (f *faults) firedOps() []string { return slices.Clone(f.fired) }

// opLog renders one call for the Ops log.
func opLog(op string, err error, format string, args ...any) string {
	var b strings.Builder
	b.WriteString(op)
	b.WriteByte('(')
	fmt.Fprintf(&b, format, args...)
	b.WriteByte(')')
	if err != nil {
		b.WriteString(" -> ")
		b.WriteString(err.Error())
	}
	return b.String()
}
