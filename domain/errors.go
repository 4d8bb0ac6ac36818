package domain

import (
	"errors"
	"fmt"
)

// Code is a CNI error code: 1-99 from the CNI spec, 100 and up our own.
type Code uint

// Spec codes.
const (
	CodeIncompatibleVersion Code = 1
	CodeUnsupportedField    Code = 2
	CodeUnknownContainer    Code = 3
	CodeInvalidEnv          Code = 4
	CodeIOFailure           Code = 5
	CodeDecode              Code = 6
	CodeInvalidConfig       Code = 7
	CodeTryAgainLater       Code = 11
	CodeNotAvailable        Code = 50
)

// Bond plugin codes (documented in README).
const (
	CodeLinkNotFound   Code = 100 // a configured link does not exist where expected
	CodeLinkBusy       Code = 101 // a link is enslaved, a master, or claimed by another attachment
	CodeKernelRefused  Code = 102 // the kernel refused a bond option or an enslave
	CodeIfnameExists   Code = 103 // CNI_IFNAME (or the bond's name under a VLAN) already exists in the pod
	CodeUnsafeHostLink Code = 104 // a host link looks like it carries the node's traffic
	CodeLinkUnusable   Code = 105 // a link lacks what the mode needs (speed/duplex, MTU range)
	CodeIPAMFailed     Code = 106 // the IPAM plugin failed
	CodeCheckFailed    Code = 107 // CHECK found drift
	CodeStateCorrupt   Code = 108 // the attachment record cannot be read
	CodeLinkMismatch   Code = 109 // a link found under a recorded name is not the recorded device
)

// Error is an error with a CNI code. Msg names the key, the value and what
// is allowed, and carries the cause's text. Err is the cause chain.
//
// Details becomes the CNI error's "details": what a delegated plugin
// reported beside its message (adapters/ipam: the IPAM plugin's own code and
// details), so an operator reads the delegate's error as it gave it. It is
// empty for errors of our own, whose cause is already in Msg.
type Error struct {
	Code    Code
	Msg     string
	Details string
	Err     error
	// Problems, when the error lists several, are its parts one by one
	// (Msg joins them).
	Problems []string
}

func (e *Error) Error() string {
	if e.Details != "" {
		return e.Msg + ": " + e.Details
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a coded error. Every %w verb keeps its operand in the
// chain: Err is fmt.Errorf's own error, so errors.Is and errors.As see
// each of several %w, not only the first.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Msg: err.Error()}
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		e.Err = err
	}
	return e
}

// CodeOf returns the CNI code carried by err, or def if none.
func CodeOf(err error, def Code) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return def
}

// Sentinel errors the driven adapters map kernel and filesystem errors to.
var (
	ErrNotFound      = errors.New("not found")      // link, bond, netns or record absent
	ErrExists        = errors.New("already exists") // name taken
	ErrBusy          = errors.New("busy")           // enslaved elsewhere, or a lock is held
	ErrNetnsGone     = errors.New("network namespace is gone")
	ErrNotNetns      = errors.New("not a network namespace")
	ErrUnsupported   = errors.New("not supported") // e.g. no bonding driver
	ErrKernelRefused = errors.New("kernel refused")
	ErrNotBond       = errors.New("link is not a bond")
)

// HeldError says a host link is held by another attachment. Its message
// does not say by whom: errors reach the pod's events, and another
// tenant's pod is none of that pod's business. Holder is for the node's
// log.
type HeldError struct {
	Link   string
	Holder string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("link %q is held by another attachment", e.Link)
}

// Unwrap makes a HeldError an ErrBusy.
func (e *HeldError) Unwrap() error { return ErrBusy }
