package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// Runtimes such as cri-dockerd hand the plugin /proc/<pid>/ns/net, the
// sandbox process's own netns file, instead of a bind mount under
// /run/netns. bond-debugd, seeing the node's processes (hostPID, as the
// debugd-hostpid overlay gives it; here it runs in the VM's own PID
// namespace), reads such a bond live, and reports the netns gone once the
// process has exited.
func TestDebugdReadsProcNetnsPaths(t *testing.T) {
	e := newCNI(t)
	d := startDebugd(t, e)

	sandbox := exec.Command("unshare", "-n", "sleep", "600")
	require.NoError(t, sandbox.Start())
	exited := make(chan error, 1)
	go func() { exited <- sandbox.Wait() }()
	t.Cleanup(func() { _ = sandbox.Process.Kill() })
	pod := fmt.Sprintf("/proc/%d/ns/net", sandbox.Process.Pid)
	self, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		l, err := os.Readlink(pod)
		return err == nil && l != self
	}, 10*time.Second, 10*time.Millisecond, "the sandbox process never entered a netns of its own")

	sw := kit.NewNetns(t, "switch")
	kit.Veth(t, pod, "s1", nil, sw, "p1", 0)
	kit.Veth(t, pod, "s2", nil, sw, "p2", 0)
	a := e.attachment(modeConf("active-backup", ""), pod, "bond0")
	e.mustAdd(a)

	in := d.inspect(a)
	assert.Equal(t, pod, in.Netns.Path)
	assert.Equal(t, "present", in.Netns.Status, in.Netns.Error)
	require.NotNil(t, in.Bond, in.BondError)
	assert.Equal(t, "active-backup", in.Bond.Mode)
	assert.Len(t, in.Slaves, 2)
	assert.True(t, in.AsConfigured, "drift: %v %s", in.Drift, in.DriftError)

	// The sandbox exits: its netns dies with it (nothing else holds it,
	// the daemon included), and the daemon says so.
	require.NoError(t, sandbox.Process.Kill())
	<-exited
	require.Eventually(t, func() bool {
		return d.inspect(a).Netns.Status == "gone"
	}, 15*time.Second, 100*time.Millisecond, "the exited sandbox's netns is not reported gone")
	require.NoError(t, e.del(a), "DEL after the sandbox exited")
	assert.Equal(t, http.StatusNotFound, d.get("/v1/attachments/"+a.ContainerID+"/bond0", nil))
}
