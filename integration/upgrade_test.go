package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// Records moved from /var/lib/cni/bond to /run/bond-cni/state. An
// attachment an earlier version recorded at the previous location is still
// undone by the DEL of this one: the host NICs come back exactly, the bond
// goes, and the record is removed where it was.
func TestDelUndoesAnAttachmentRecordedAtThePreviousLocation(t *testing.T) {
	e := newCNI(t)
	pod := kit.NewNetns(t, "upgrade")
	previous := t.TempDir() // stands for /var/lib/cni/bond
	conf := kit.SeedHostConf("1.1.0", `{"type":"static","addresses":[{"address":"10.10.23.2/24"}]}`)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	ctr := fmt.Sprintf("upgrade%d%d", os.Getpid(), ctrSeq.Add(1))
	env := map[string]string{"CNI_CONTAINERID": ctr, "CNI_NETNS": pod, "CNI_IFNAME": "net1"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// The earlier version kept its records in previous.
	out, stderr, code := e.execBond(with(map[string]string{"CNI_COMMAND": "ADD", "BOND_STATE_DIR": previous}), conf)
	require.Equal(t, 0, code, "ADD: %s %s", out, stderr)
	record := filepath.Join(previous, ctr+"_net1.json")
	require.FileExists(t, record)
	require.False(t, absent(t, pod, "net1"), "the bond is in the pod")

	// This version writes elsewhere, and reads previous too.
	out, stderr, code = e.execBond(with(map[string]string{"CNI_COMMAND": "DEL", "BOND_STATE_DIR": e.stateDir, "BOND_PREVIOUS_STATE_DIR": previous}), conf)
	require.Equal(t, 0, code, "DEL: %s %s", out, stderr)
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	assert.ElementsMatch(t, []string{"lo"}, kit.Links(t, pod), "nothing left in the pod")
	assert.NoFileExists(t, record, "the record is removed where it was")
}
