package kit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeedConfsAreTheFixtures: the configs the tests and the demo attach
// are the seed's examples of fixtures/configs (with the seed's own IPAM).
func TestSeedConfsAreTheFixtures(t *testing.T) {
	calico := `{"type": "calico-ipam", "assign_ipv4": "true", "ipv4_pools": ["mypool"]}`
	for fixture, conf := range map[string]string{
		"seed-host-active-backup.json": SeedHostConf("0.3.1", calico),
		"seed-sriov-8023ad.json":       SeedSRIOVConf,
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "configs", fixture))
		require.NoError(t, err)
		var want, got any
		require.NoError(t, json.Unmarshal(raw, &want), fixture)
		require.NoError(t, json.Unmarshal([]byte(conf), &got), fixture)
		assert.Equal(t, want, got, fixture)
	}
}
