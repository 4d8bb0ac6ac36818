package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/state"
	"github.com/bondcni/bond/integration/kit"
)

// The host NICs of the VM: two virtio-net devices on an isolated QEMU hub,
// renamed by the VM's init. They behave like physical NICs: when a pod
// netns dies they return to the host netns.
const (
	hostNIC1 = "eth1000"
	hostNIC2 = "eth1001"
)

var ctrSeq atomic.Uint64

// cniEnv drives the built bond binary through libcni, as containerd, CRI-O
// and Multus do.
type cniEnv struct {
	t        *testing.T
	cni      *libcni.CNIConfig
	binDir   string
	stateDir string
}

func newCNI(t *testing.T) *cniEnv {
	t.Helper()
	kit.Require(t)
	binDir := os.Getenv("CNI_PATH")
	if binDir == "" {
		binDir = "/payload/bin"
	}
	_, err := os.Stat(filepath.Join(binDir, "bond"))
	require.NoError(t, err, "bond binary in CNI_PATH")
	stateDir := os.Getenv("BOND_STATE_DIR")
	if stateDir == "" {
		stateDir = state.DefaultDir
	}
	return &cniEnv{t: t, cni: libcni.NewCNIConfigWithCacheDir([]string{binDir}, t.TempDir(), nil), binDir: binDir, stateDir: stateDir}
}

// hooksBin is the test-hook build of the plugin (bond-hooks), which can
// pause before a named step of ADD.
func (e *cniEnv) hooksBin() string {
	e.t.Helper()
	p := filepath.Join(e.binDir, "bond-hooks")
	_, err := os.Stat(p)
	require.NoError(e.t, err, "the test-hook build of the plugin")
	return p
}

func (e *cniEnv) list(conf string) *libcni.NetworkConfigList {
	e.t.Helper()
	pc, err := libcni.NetworkPluginConfFromBytes([]byte(conf))
	require.NoError(e.t, err)
	l, err := libcni.ConfListFromConf(pc)
	require.NoError(e.t, err)
	return l
}

type attachment struct {
	ContainerID string
	Netns       string
	IfName      string
	list        *libcni.NetworkConfigList
}

func (a attachment) rt() *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: a.ContainerID, NetNS: a.Netns, IfName: a.IfName,
		Args: [][2]string{{"IgnoreUnknown", "true"}, {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "pod-" + a.ContainerID}},
	}
}

// attachment names a new attachment; a DEL at test end (before its
// namespaces go) keeps a failed test from stranding the VM's NICs for the
// next one.
func (e *cniEnv) attachment(conf, netns, ifname string) attachment {
	a := attachment{ContainerID: fmt.Sprintf("ctr%d%d", os.Getpid(), ctrSeq.Add(1)), Netns: netns, IfName: ifname, list: e.list(conf)}
	e.t.Cleanup(func() { _ = e.del(a) })
	return a
}

func (e *cniEnv) add(a attachment) (*types100.Result, error) {
	r, err := e.cni.AddNetworkList(context.Background(), a.list, a.rt())
	if err != nil {
		return nil, err
	}
	return types100.NewResultFromResult(r)
}

func (e *cniEnv) mustAdd(a attachment) *types100.Result {
	e.t.Helper()
	r, err := e.add(a)
	require.NoError(e.t, err, "ADD")
	return r
}

func (e *cniEnv) del(a attachment) error {
	return e.cni.DelNetworkList(context.Background(), a.list, a.rt())
}

func (e *cniEnv) check(a attachment) error {
	return e.cni.CheckNetworkList(context.Background(), a.list, a.rt())
}

// execBond runs the bond binary directly with env and stdin, returning
// stdout, stderr and the exit code.
func (e *cniEnv) execBond(env map[string]string, stdin string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(e.binDir, "bond"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CNI_PATH=" + e.binDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(e.t, err)
	}
	return out.String(), errb.String(), code
}

// cniError decodes an error JSON from stdout.
func cniError(t *testing.T, stdout string) types.Error {
	t.Helper()
	var e types.Error
	require.NoError(t, json.Unmarshal([]byte(stdout), &e), "stdout must be one CNI error JSON: %q", stdout)
	return e
}

// linkSnap is what the tests compare of a host link before and after.
type linkSnap struct {
	Name   string
	Index  uint32
	MTU    uint32
	MAC    string
	Up     bool
	Master uint32
}

// vethPod makes a pod netns holding two links, s1 and s2, whose peers p1
// and p2 are in a switch netns of their own: the links of a
// linksInContainer bond. Both namespaces go at the end of the test.
func vethPod(t *testing.T) string {
	t.Helper()
	pod, sw := kit.NewNetns(t, "pod"), kit.NewNetns(t, "switch")
	kit.Veth(t, pod, "s1", nil, sw, "p1", 0)
	kit.Veth(t, pod, "s2", nil, sw, "p2", 0)
	return pod
}

func snap(t *testing.T, ns, name string) linkSnap {
	t.Helper()
	l := kit.MustLink(t, ns, name)
	s := linkSnap{Name: l.Attributes.Name, Index: l.Index, MTU: l.Attributes.MTU, MAC: l.Attributes.Address.String(), Up: l.Flags&1 != 0}
	if l.Attributes.Master != nil {
		s.Master = *l.Attributes.Master
	}
	return s
}

func absent(t *testing.T, ns, name string) bool {
	t.Helper()
	_, err := kit.Link(ns, name)
	return err != nil
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	require.NoError(t, err)
	return m
}

// ipsOf lists the addresses of a link in ns.
func ipsOf(t *testing.T, ns, name string) []string {
	t.Helper()
	c, err := kit.Dial(ns)
	require.NoError(t, err)
	defer c.Close()
	l := kit.MustLink(t, ns, name)
	addrs, err := c.Address.List()
	require.NoError(t, err)
	var out []string
	for _, a := range addrs {
		// Global scope only: the kernel's own IPv6 link-local is not IPAM's.
		if a.Index == l.Index && a.Attributes != nil && a.Scope == 0 {
			out = append(out, fmt.Sprintf("%s/%d", a.Attributes.Address, a.PrefixLength))
		}
	}
	return out
}

func (e *cniEnv) mustResult(r types.Result) *types100.Result {
	e.t.Helper()
	res, err := types100.NewResultFromResult(r)
	require.NoError(e.t, err)
	return res
}
