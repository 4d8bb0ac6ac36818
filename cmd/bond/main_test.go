package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the tests run this binary's main as a CNI plugin.
func TestMain(m *testing.M) {
	if os.Getenv("BOND_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runPlugin(t *testing.T, env []string, stdin string) (stdout string, exit int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{"BOND_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out strings.Builder
	cmd.Stdout = &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), 0
}

// A malformed node settings file fails every verb with an error naming the
// file: never permissive defaults.
func TestMalformedNodeFileFailsEveryVerb(t *testing.T) {
	p := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"hostLinks":["eth1"],"allowUnsafeHostlinks":true}`), 0o644))
	for _, verb := range []string{"VERSION", "ADD", "DEL", "CHECK", "STATUS", "GC"} {
		out, exit := runPlugin(t, []string{"BOND_NODE_CONFIG=" + p, "CNI_COMMAND=" + verb, "CNI_CONTAINERID=c", "CNI_NETNS=/x", "CNI_IFNAME=net1", "CNI_PATH=/opt/cni/bin"},
			`{"cniVersion":"1.0.0","name":"b","type":"bond"}`)
		assert.Equal(t, 1, exit, verb)
		var e struct {
			Code uint   `json:"code"`
			Msg  string `json:"msg"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &e), "%s: %q", verb, out)
		assert.EqualValues(t, 7, e.Code, verb)
		assert.Contains(t, e.Msg, "node settings file "+p, verb)
		assert.Contains(t, e.Msg, `unknown key "allowUnsafeHostlinks"`, verb)
	}
}

func TestNodeFileWinsOverEnvironment(t *testing.T) {
	p := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"stateDir":"/srv/state","lockDir":"/run/l","logLevel":"debug"}`), 0o600))
	env := map[string]string{"BOND_NODE_CONFIG": p, "BOND_STATE_DIR": "/from/env", "BOND_LOCK_DIR": "/from/env"}
	e, err := loadEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "/srv/state", e.StateDir)
	assert.Equal(t, "/run/l", e.LockDir)
	assert.Equal(t, "debug", e.LogLevel)
	assert.True(t, e.Node.Found)
}

// A network config may name any file in the log directory: were it also
// the state or lock directory, a tenant's logFile could append to (and so
// break) another attachment's record or create lock files. Such node
// settings fail every verb.
func TestLogDirMustNotBeTheStateOrLockDir(t *testing.T) {
	for name, tc := range map[string]struct {
		node string
		env  map[string]string
	}{
		"state dir":             {`{"logDir":"/srv/b","stateDir":"/srv/b"}`, nil},
		"lock dir":              {`{"logDir":"/srv/b","lockDir":"/srv/b"}`, nil},
		"default state dir":     {`{"logDir":"/run/bond-cni/state"}`, nil},
		"previous state dir":    {`{"logDir":"/var/lib/cni/bond"}`, nil},
		"state dir from BOND_*": {`{}`, map[string]string{"BOND_STATE_DIR": "/var/log/bond-cni"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "node.json")
			require.NoError(t, os.WriteFile(p, []byte(tc.node), 0o600))
			env := map[string]string{"BOND_NODE_CONFIG": p}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := loadEnv(func(k string) string { return env[k] })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "node settings file "+p)
			assert.Contains(t, err.Error(), "logDir")
		})
	}
}

// The built plugin, driven as a hostile NAD author would drive it: a
// logFile path is refused before anything is created, and a symlink or a
// FIFO planted in the admin's log directory is neither followed nor
// waited on.
func TestHostileLogFile(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.Mkdir(logDir, 0o700))
	node := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(node, []byte(`{"logDir":"`+logDir+`","hostLinks":["*"]}`), 0o600))
	profile := filepath.Join(t.TempDir(), "profile")
	require.NoError(t, os.WriteFile(profile, []byte("# root's profile\n"), 0o600))
	require.NoError(t, os.Symlink(profile, filepath.Join(logDir, "link.log")))
	require.NoError(t, syscallMkfifo(filepath.Join(logDir, "fifo.log")))
	env := []string{"BOND_NODE_CONFIG=" + node, "BOND_STATE_DIR=" + filepath.Join(t.TempDir(), "state"),
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_NETNS=/nonexistent/netns", "CNI_IFNAME=net1", "CNI_PATH=/opt/cni/bin"}
	conf := func(logFile string) string {
		return `{"cniVersion":"1.0.0","name":"b","type":"bond","mode":"active-backup","miimon":100,"links":["eth8","eth9"],` +
			`"logLevel":"debug","logFile":"` + logFile + `","ipam":{"type":"host-local"}}`
	}

	out, exit := runPlugin(t, env, conf(profile))
	assert.Equal(t, 1, exit)
	assert.Contains(t, out, `"code": 7`)
	assert.Contains(t, out, "logFile")
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	assert.Equal(t, "# root's profile\n", string(data), "a path is refused, never appended to")

	for _, name := range []string{"link.log", "fifo.log"} {
		out, exit = runPlugin(t, env, conf(name))
		assert.Equal(t, 1, exit, name)
		assert.Contains(t, out, `"code": 4`, "%s: the call goes on to its own error (no netns)", name)
	}
	data, err = os.ReadFile(profile)
	require.NoError(t, err)
	assert.Equal(t, "# root's profile\n", string(data), "the symlink in the log dir is not followed")

	out, exit = runPlugin(t, env, conf("pod.log"))
	assert.Equal(t, 1, exit)
	data, err = os.ReadFile(filepath.Join(logDir, "pod.log"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "plugin=bond", "a plain file name lands in the admin's log dir")
}

// A config the node's policy refuses (a host NIC not on the list, the
// unsafe opt-in the node does not allow) is refused before anything is
// created: its logFile is not opened either.
func TestLogFileNotCreatedForAConfigTheNodeRefuses(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.Mkdir(logDir, 0o700))
	node := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(node, []byte(`{"logDir":"`+logDir+`","hostLinks":["eth8","eth9"]}`), 0o600))
	env := []string{"BOND_NODE_CONFIG=" + node, "BOND_STATE_DIR=" + filepath.Join(t.TempDir(), "state"),
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_NETNS=/nonexistent/netns", "CNI_IFNAME=net1", "CNI_PATH=/opt/cni/bin"}
	for name, extra := range map[string]string{"not-listed.log": `"links":["eth8","eth7"]`,
		"unsafe.log": `"links":["eth8","eth9"],"allowUnsafeHostLinks":true`} {
		out, exit := runPlugin(t, env, `{"cniVersion":"1.0.0","name":"b","type":"bond","mode":"balance-rr","miimon":100,`+extra+`,"logFile":"`+name+`"}`)
		assert.Equal(t, 1, exit, name)
		assert.Contains(t, out, `"code": 7`, name)
		assert.Contains(t, out, "node admin", name)
		assert.NoFileExists(t, filepath.Join(logDir, name), "nothing is created for a config the node refuses")
	}
}

// The node's log keeps every failed call: a network config's logLevel may
// make its own calls more verbose, never quieter than the node's level, or
// a tenant could hide its failures from the node admin.
func TestConfigLogLevelCannotSilenceTheNodeLog(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.Mkdir(logDir, 0o700))
	node := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(node, []byte(`{"logDir":"`+logDir+`","logFile":"node.log","hostLinks":["*"]}`), 0o600))
	env := []string{"BOND_NODE_CONFIG=" + node, "BOND_STATE_DIR=" + filepath.Join(t.TempDir(), "state"),
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=quiet", "CNI_NETNS=/nonexistent/netns", "CNI_IFNAME=net1", "CNI_PATH=/opt/cni/bin"}
	out, exit := runPlugin(t, env, `{"cniVersion":"1.0.0","name":"b","type":"bond","mode":"balance-rr","miimon":100,"links":["eth8","eth9"],"logLevel":"error"}`)
	assert.Equal(t, 1, exit)
	assert.Contains(t, out, `"code": 4`)
	data, err := os.ReadFile(filepath.Join(logDir, "node.log"))
	require.NoError(t, err)
	assert.Contains(t, string(data), `msg="CNI call failed"`)
	assert.Contains(t, string(data), "containerID=quiet")
}

func syscallMkfifo(p string) error { return syscall.Mkfifo(p, 0o600) }
