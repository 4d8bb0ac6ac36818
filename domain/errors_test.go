package domain

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorfKeepsEveryWrappedCause(t *testing.T) {
	held := &HeldError{Link: "eth1", Holder: "pod-a/net1"}
	kernel := errors.New("operation not permitted")
	err := Errorf(CodeLinkBusy, "links: %q: %w (%w)", "eth1", held, kernel)

	assert.Equal(t, `links: "eth1": link "eth1" is held by another attachment (operation not permitted)`, err.Error())
	assert.Equal(t, CodeLinkBusy, CodeOf(fmt.Errorf("ADD: %w", err), 0))
	assert.ErrorIs(t, err, kernel, "the second %w")
	assert.ErrorIs(t, err, ErrBusy, "through the first %w's own Unwrap")
	var h *HeldError
	require.ErrorAs(t, err, &h)
	assert.Equal(t, "pod-a/net1", h.Holder)
	assert.Empty(t, err.Details)
}

func TestErrorfOneCauseAndNone(t *testing.T) {
	err := Errorf(CodeLinkNotFound, "links: %q: %w", "eth9", ErrNotFound)
	assert.Equal(t, `links: "eth9": not found`, err.Error())
	assert.ErrorIs(t, err, ErrNotFound)

	plain := Errorf(CodeInvalidConfig, "mode: %q is not a mode", "fast")
	assert.Equal(t, `mode: "fast" is not a mode`, plain.Error())
	assert.NoError(t, plain.Unwrap(), "no %w: no chain")
	assert.NotErrorIs(t, plain, ErrNotFound)
}

func TestErrorDetailsFollowTheMessage(t *testing.T) {
	err := &Error{Code: CodeIPAMFailed, Msg: "IPAM plugin \"host-local\" ADD failed: no addresses", Details: "IPAM plugin error code 11"}
	assert.Equal(t, "IPAM plugin \"host-local\" ADD failed: no addresses: IPAM plugin error code 11", err.Error())
}
