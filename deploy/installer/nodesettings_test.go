package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNodeSettingsInstalledWhenValid(t *testing.T) {
	o, logs, l := setup(t)
	o.nodeSrc = filepath.Join(t.TempDir(), "node.json")
	o.nodeDir = filepath.Join(t.TempDir(), "bond.d")
	require.NoError(t, os.Mkdir(o.nodeDir, 0o755))
	require.NoError(t, os.WriteFile(o.nodeSrc, []byte(`{"hostLinks":["ens1f*"]}`), 0o644))

	require.NoError(t, run(context.Background(), o, l))
	dst := filepath.Join(o.nodeDir, "node.json")
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, `{"hostLinks":["ens1f*"]}`, string(got))
	st, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "not writable by others: the plugin refuses such a file")
	require.Contains(t, logs.String(), "installed "+dst)
	require.NoError(t, verify(o))

	logs.Reset()
	require.NoError(t, run(context.Background(), o, l))
	require.NotContains(t, logs.String(), "installed "+dst, "identical: left alone")

	// An invalid file is not installed: the node keeps the valid one, and
	// -check fails so the DaemonSet pod is not Ready.
	require.NoError(t, os.WriteFile(o.nodeSrc, []byte(`{"hostlinks":[]}`), 0o644))
	err = run(context.Background(), o, l)
	require.ErrorContains(t, err, "not installed")
	got, err = os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, `{"hostLinks":["ens1f*"]}`, string(got))
	require.ErrorContains(t, verify(o), "invalid")
}

func TestNoNodeSettingsLeavesTheHostsFile(t *testing.T) {
	o, logs, l := setup(t)
	o.nodeSrc = filepath.Join(t.TempDir(), "absent.json")
	o.nodeDir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(o.nodeDir, "node.json"), []byte(`{}`), 0o644))
	require.NoError(t, run(context.Background(), o, l))
	require.Contains(t, logs.String(), "no node settings")
	require.FileExists(t, filepath.Join(o.nodeDir, "node.json"))
	require.NoError(t, verify(o))
}
