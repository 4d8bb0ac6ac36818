package contract_test

import (
	"path/filepath"
	"testing"

	"github.com/bondcni/bond/adapters/contract"
	"github.com/bondcni/bond/adapters/locks"
	"github.com/bondcni/bond/adapters/state"
	"github.com/bondcni/bond/ports"
)

// The file-backed Store and Locks need no special kernel: their contracts
// run in every lane.
func TestFileStoreAndLocksContracts(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		contract.RunStoreContract(t, func(t *testing.T) ports.Store { return state.New(filepath.Join(t.TempDir(), "state")) })
	})
	t.Run("store at a new location, reading the previous one", func(t *testing.T) {
		contract.RunStoreContract(t, func(t *testing.T) ports.Store { return state.NewMoved(t.TempDir(), t.TempDir()) })
	})
	t.Run("locks", func(t *testing.T) {
		contract.RunLocksContract(t, func(t *testing.T) ports.Locks { return locks.New(filepath.Join(t.TempDir(), "locks")) })
	})
}
