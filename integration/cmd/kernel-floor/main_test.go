package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// The floor builds the bond the config describes, not one fixed bond: an
// 802.3ad bond of virtio NICs rewrites both NICs' MACs at enslave and
// release, an active-backup one with failOverMac active does not.
func TestBondSpecIsTheConfigsBond(t *testing.T) {
	spec, err := bondSpec([]byte(`{"cniVersion":"1.1.0","name":"n","type":"bond","mode":"active-backup","miimon":"100",
		"failOverMac":1,"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"static"}}`), "net1")
	require.NoError(t, err)
	assert.Equal(t, "net1", spec.Name)
	assert.Equal(t, []string{"eth1000", "eth1001"}, spec.Links)
	assert.Equal(t, domain.ModeActiveBackup, spec.Options.Mode)
	require.NotNil(t, spec.Options.FailOverMac)
	assert.Equal(t, domain.FailOverMacActive, *spec.Options.FailOverMac)
	require.NotNil(t, spec.Options.Miimon)
	assert.EqualValues(t, 100, *spec.Options.Miimon)

	_, err = bondSpec([]byte(`{"cniVersion":"1.1.0","name":"n","type":"bond","mode":"nope","links":[{"name":"a"},{"name":"b"}]}`), "net1")
	assert.ErrorContains(t, err, "mode")
}
