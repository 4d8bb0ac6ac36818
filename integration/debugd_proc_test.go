package integration

import (
	"bufio"
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

	// The sandbox says "ready" once it is in its new netns (unshare execs
	// sh there, which execs sleep: one process, one PID throughout).
	sandbox := exec.Command("unshare", "-n", "sh", "-c", "echo ready; exec sleep 600")
	out, err := sandbox.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, sandbox.Start())
	exited := make(chan error, 1)
	t.Cleanup(func() { _ = sandbox.Process.Kill() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	go func() { exited <- sandbox.Wait() }()
	pod := fmt.Sprintf("/proc/%d/ns/net", sandbox.Process.Pid)
	self, err := os.Readlink("/proc/1/ns/net")
	require.NoError(t, err)
	l, err := os.Readlink(pod)
	require.NoError(t, err)
	require.NotEqual(t, self, l, "the sandbox has a netns of its own")

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
