package cni_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/cni"
	"github.com/bondcni/bond/adapters/ipam"
	"github.com/bondcni/bond/adapters/logging"
	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

type node struct {
	logDir string
	stderr *bytes.Buffer
	plugin *cni.Plugin
	pod    domain.Netns
}

func newNode(t *testing.T) *node {
	k := memory.NewKernel()
	pod := k.AddNetns("/run/netns/pod")
	for i, n := range []string{"eth1000", "eth1001"} {
		k.AddPhysical(domain.HostNetns, n, 1500, net.HardwareAddr{0x52, 0x54, 0, 0, 0x10, byte(i)})
	}
	n := &node{logDir: filepath.Join(t.TempDir(), "log"), stderr: &bytes.Buffer{}, pod: pod}
	sink := logging.New(n.stderr, "warn")
	t.Cleanup(func() { sink.Close() })
	svc, err := app.New(app.Deps{Links: k, Bonds: k, Addresses: k, Namespaces: k, Props: k,
		IPAM: memory.NewIPAM("10.1.0.0/24"), Store: memory.NewStore(), Locks: memory.NewLocks(), Log: sink.Logger()})
	require.NoError(t, err)
	n.plugin = cni.New(svc, sink, n.logDir, "test")
	return n
}

func (n *node) add(conf string) error {
	return n.plugin.Funcs().Add(&skel.CmdArgs{ContainerID: "c1", Netns: string(n.pod), IfName: "net1", Path: "/opt/cni/bin", StdinData: []byte(conf)})
}

func conf(logFile, mode string) string {
	return `{"cniVersion":"1.0.0","name":"b","type":"bond","mode":"` + mode + `","miimon":100,` +
		`"links":["eth1000","eth1001"],"logLevel":"debug","logFile":"` + logFile + `","ipam":{"type":"host-local"}}`
}

// A network config can name at most a file name inside the admin's log
// directory; a path is refused before anything is created.
func TestLogFilePathIsRefused(t *testing.T) {
	n := newNode(t)
	outside := filepath.Join(t.TempDir(), "profile")
	err := n.add(conf(outside, "active-backup"))
	require.Error(t, err)
	var ce *types.Error
	require.ErrorAs(t, err, &ce)
	assert.EqualValues(t, domain.CodeInvalidConfig, ce.Code)
	assert.Contains(t, ce.Msg, `logFile: "`+outside+`": is a path`)
	assert.NoFileExists(t, outside)
	assert.NoDirExists(t, n.logDir, "nothing created for a refused config")
}

func TestLogFileNotOpenedForAnInvalidConfig(t *testing.T) {
	n := newNode(t)
	require.Error(t, n.add(conf("pod.log", "no-such-mode")))
	assert.NoFileExists(t, filepath.Join(n.logDir, "pod.log"))
}

func TestLogFileInsideTheLogDir(t *testing.T) {
	n := newNode(t)
	_ = n.add(conf("pod.log", "active-backup"))
	data, err := os.ReadFile(filepath.Join(n.logDir, "pod.log"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "plugin=bond")
	fi, err := os.Stat(n.logDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

// A symlink or FIFO planted in the log directory is neither followed nor
// waited on.
func TestLogFileSymlinkAndFIFORefused(t *testing.T) {
	n := newNode(t)
	require.NoError(t, os.MkdirAll(n.logDir, 0o700))
	target := filepath.Join(t.TempDir(), "bashrc")
	require.NoError(t, os.WriteFile(target, []byte("original\n"), 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(n.logDir, "link.log")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(n.logDir, "fifo.log"), 0o600))

	_ = n.add(conf("link.log", "active-backup"))
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "original\n", string(data), "the symlink's target is untouched")
	assert.Contains(t, n.stderr.String(), "is a symlink")

	n.stderr.Reset()
	_ = n.add(conf("fifo.log", "active-backup")) // returns: O_NONBLOCK
	assert.Contains(t, n.stderr.String(), "FIFO")
}

type panicky struct{ cni.UseCases }

func (panicky) Add(context.Context, app.Request) (domain.Result, error) { panic("boom") }

// A panic is a short error for the runtime; the stack goes to the log.
func TestPanicGivesShortErrorAndLogsStack(t *testing.T) {
	var stderr bytes.Buffer
	p := cni.New(panicky{}, logging.New(&stderr, ""), t.TempDir(), "test")
	err := p.Funcs().Add(&skel.CmdArgs{ContainerID: "c", Netns: "/x", IfName: "net1", StdinData: []byte(`{}`)})
	var ce *types.Error
	require.ErrorAs(t, err, &ce)
	assert.EqualValues(t, types.ErrInternal, ce.Code)
	assert.Empty(t, ce.Details)
	assert.NotContains(t, ce.Msg, "goroutine")
	assert.Contains(t, stderr.String(), "goroutine", "the stack is in the log")
	assert.Contains(t, stderr.String(), "boom")
}

// An IPAM plugin that dies without output reaches the runtime as code 106
// with its message, not as invoke's code 0; one with a code keeps it.
func TestIPAMFailureCodesReachTheRuntime(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "silent"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "busy"), []byte("#!/bin/sh\necho '{\"code\":11,\"msg\":\"pool locked\"}'\nexit 1\n"), 0o755))
	k := memory.NewKernel()
	pod := k.AddNetns("/run/netns/pod")
	k.AddVirtual(pod, "veth", "v1", 1500, nil)
	k.AddVirtual(pod, "veth", "v2", 1500, nil)
	svc, err := app.New(app.Deps{Links: k, Bonds: k, Addresses: k, Namespaces: k, Props: k,
		IPAM: ipam.New(nil), Store: memory.NewStore(), Locks: memory.NewLocks()})
	require.NoError(t, err)
	p := cni.New(svc, nil, t.TempDir(), "test")
	for plugin, want := range map[string]uint{"silent": 106, "busy": 11} {
		conf := `{"cniVersion":"1.0.0","name":"b","type":"bond","mode":"balance-rr","miimon":100,"linksInContainer":true,"links":["v1","v2"],"ipam":{"type":"` + plugin + `"}}`
		err := p.Funcs().Add(&skel.CmdArgs{ContainerID: "c-" + plugin, Netns: string(pod), IfName: "bond0", Path: dir, StdinData: []byte(conf)})
		var ce *types.Error
		require.ErrorAs(t, err, &ce, plugin)
		assert.Equal(t, want, ce.Code, plugin)
		assert.Contains(t, ce.Msg, `IPAM plugin "`+plugin+`" ADD failed`)
		assert.Contains(t, ce.Details, "IPAM plugin error code")
		assert.NotContains(t, ce.Msg, "IPAM plugin error code", "the details are not repeated in msg")
	}
}
