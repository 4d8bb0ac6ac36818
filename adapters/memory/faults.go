package memory

// Fault injection (FailAfter, FailOn: a chosen call fails, changing
// nothing) and the log of mutating calls (Ops).

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// FailAfter makes the mutating call that follows the next n of them fail
// with an error wrapping err (n = 0: the next one). Mutating calls are Move,
// Restore, SetUp, Delete, CreateBond, Enslave, Release and Configure. The
// failing call changes nothing. One-shot; several may be armed.
func (k *Kernel) FailAfter(n int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f.failAfter(n, err)
}

// FailOn makes the nth next call (1 = the next one) of the named
// operation fail with an error wrapping err, changing nothing. op is a
// method name: "Move", "Restore", "SetUp", "Delete", "CreateBond",
// "Enslave", "Release", "Configure", or a read such as "Link",
// "LinkByIndex", "LinkByMAC", "Bond", "Addresses", "Check", "Speed".
// One-shot; several may be armed. "Enslave/master" fails
// an Enslave half-way, after its down message, as a kernel refusing the
// enslave itself does.
func (k *Kernel) FailOn(op string, nth int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f.failOn(op, nth, err)
}

// ClearFaults disarms every pending failure.
func (k *Kernel) ClearFaults() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f.clear()
}

// Injected lists the operations that failed by injection so far.
func (k *Kernel) Injected() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.firedOps()
}

// PendingFaults is the number of armed failures that have not fired.
func (k *Kernel) PendingFaults() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.pending()
}

// Ops returns the log of mutating calls with their outcome, for debugging
// a failing test. Its wording is not part of the API.
func (k *Kernel) Ops() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.ops)
}

// begin starts a call: the context, then an armed failure. Lock held.
func (k *Kernel) begin(ctx context.Context, op string, mutating bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.f.hit(op, mutating)
}

func (k *Kernel) logOp(op string, err error, format string, args ...any) {
	k.ops = append(k.ops, opLog(op, err, format, args...))
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
