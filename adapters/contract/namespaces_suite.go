package contract

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// FileMaker is an optional Harness capability: a path that exists but is
// not a network namespace. Harnesses on the real filesystem need not
// implement it; the suite then creates a regular file.
type FileMaker interface {
	NewFile(t *testing.T) domain.Netns
}

// RunNamespacesContract checks ports.Namespaces.Check.
func RunNamespacesContract(t *testing.T, mk HarnessMaker) {
	t.Run("a created netns is fine", func(t *testing.T) {
		h := mk(t)
		assert.NoError(t, h.Namespaces().Check(t.Context(), h.NewNetns(t)))
	})

	t.Run("a missing path is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		err := h.Namespaces().Check(t.Context(), domain.Netns(filepath.Join(t.TempDir(), "no-such-netns")))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("a destroyed netns is ErrNotFound", func(t *testing.T) {
		h := mk(t)
		ns := h.NewNetns(t)
		h.DestroyNetns(t, ns)
		assert.ErrorIs(t, h.Namespaces().Check(t.Context(), ns), domain.ErrNotFound)
	})

	t.Run("the host netns is ErrNotNetns", func(t *testing.T) {
		h := mk(t)
		assert.ErrorIs(t, h.Namespaces().Check(t.Context(), domain.HostNetns), domain.ErrNotNetns)
	})

	t.Run("a regular file is ErrNotNetns", func(t *testing.T) {
		h := mk(t)
		var path domain.Netns
		if fm, ok := h.(FileMaker); ok {
			path = fm.NewFile(t)
		} else {
			p := filepath.Join(t.TempDir(), "not-a-netns")
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
			path = domain.Netns(p)
		}
		assert.ErrorIs(t, h.Namespaces().Check(t.Context(), path), domain.ErrNotNetns)
	})
}
