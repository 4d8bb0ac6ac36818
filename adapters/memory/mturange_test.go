package memory

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// Links report the MTU range their driver takes, as adapters/nlkernel reads it
// (IFLA_MIN_MTU, IFLA_MAX_MTU), so PlanAdd can refuse an MTU a link cannot
// take before anything changes.
func TestLinksReportTheirMTURange(t *testing.T) {
	k, pod := node(t)
	ctx := context.Background()
	nic, err := k.Link(ctx, domain.HostNetns, "eth1")
	require.NoError(t, err)
	assert.Equal(t, 68, nic.MinMTU)
	assert.Equal(t, 9216, nic.MaxMTU, "a physical NIC without jumbo frames beyond 9216")
	v := k.AddVirtual(pod, "veth", "s1", 0, nil)
	assert.Equal(t, 68, v.MinMTU)
	assert.Equal(t, 65535, v.MaxMTU)
}
