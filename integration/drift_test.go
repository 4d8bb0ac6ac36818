package integration

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
)

// CHECK catches drift (issue 4, item 7): each kind of change made to a
// healthy bond behind the plugin's back, through the kernel's own
// interfaces (sysfs, rtnetlink), makes CHECK fail with code 107 naming it.
func TestCheckCatchesEveryDrift(t *testing.T) {
	sysfs := func(t *testing.T, ns, option, value string) {
		t.Helper()
		require.NoError(t, kit.WriteSysfsBond(ns, "bond0", option, value), "writing %s %q", option, value)
	}
	for _, c := range []struct {
		name  string
		drift func(t *testing.T, tp *kit.Topology)
		want  string
	}{
		{"slave removed", func(t *testing.T, tp *kit.Topology) { sysfs(t, tp.Pod, "slaves", "-s2") }, "slaves: want [s1 s2], kernel has [s1]"},
		{"mode changed", func(t *testing.T, tp *kit.Topology) {
			// The kernel changes the mode of a bond only down and empty.
			kit.SetUp(t, tp.Pod, "bond0", false)
			sysfs(t, tp.Pod, "slaves", "-s1")
			sysfs(t, tp.Pod, "slaves", "-s2")
			sysfs(t, tp.Pod, "mode", "balance-xor")
			sysfs(t, tp.Pod, "slaves", "+s1")
			sysfs(t, tp.Pod, "slaves", "+s2")
			kit.SetUp(t, tp.Pod, "bond0", true)
		}, "mode: want active-backup, kernel has balance-xor"},
		{"option changed", func(t *testing.T, tp *kit.Topology) { sysfs(t, tp.Pod, "miimon", "200") }, "miimon: want 100, kernel has 200"},
		{"MTU changed", func(t *testing.T, tp *kit.Topology) { kit.SetMTU(t, tp.Pod, "bond0", 1280) }, "mtu: want 1500, kernel has 1280"},
		{"address removed", func(t *testing.T, tp *kit.Topology) { kit.DelAddr(t, tp.Pod, "bond0", kit.PodIP) }, "address " + kit.PodIP.String() + " missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newCNI(t)
			tp := kit.NewTopology(t, kit.TopologyConfig{})
			a := e.attachment(trafficConf(tp, "active-backup", nil), tp.Pod, "bond0")
			e.mustAdd(a)
			require.NoError(t, e.check(a), "CHECK passes on the bond as built")
			c.drift(t, tp)
			err := e.check(a)
			require.Error(t, err, "CHECK must notice: %s", c.name)
			var ce *types.Error
			require.True(t, errors.As(err, &ce), "a CNI error: %v", err)
			assert.Equal(t, uint(domain.CodeCheckFailed), ce.Code)
			assert.Contains(t, ce.Msg+" "+ce.Details, c.want)
			t.Logf("%s: %s", c.name, ce.Msg)
			require.NoError(t, e.del(a), "DEL cleans up a drifted bond")
			assert.True(t, absent(t, tp.Pod, "bond0"))
		})
	}
}
