package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
