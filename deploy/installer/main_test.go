package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func setup(t *testing.T) (o options, logs *bytes.Buffer, l *log.Logger) {
	t.Helper()
	root := t.TempDir()
	o = options{
		src: filepath.Join(root, "src"), dest: filepath.Join(root, "dest"),
		stateDir: filepath.Join(root, "state"), prevStateDir: filepath.Join(root, "previous-state"), files: []string{"bond"},
	}
	for _, d := range []string{o.src, o.dest} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(o.src, "bond"), []byte("new plugin"), 0o755))
	logs = &bytes.Buffer{}
	return o, logs, log.New(logs, "", 0)
}

func TestInstallReplacesAtomicallyAndLeavesNoTemporaryFile(t *testing.T) {
	o, logs, l := setup(t)
	dst := filepath.Join(o.dest, "bond")
	require.NoError(t, os.WriteFile(dst, []byte("old plugin, longer than the new one"), 0o755))
	// A process that has the old binary open (a runtime exec'ing it) keeps
	// reading the old inode: the new file is renamed over it, not written
	// into it.
	old, err := os.Open(dst)
	require.NoError(t, err)
	defer old.Close()

	require.NoError(t, run(context.Background(), o, l))

	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, "new plugin", string(got))
	st, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	stillOld := make([]byte, 64)
	n, _ := old.Read(stillOld)
	require.Equal(t, "old plugin, longer than the new one", string(stillOld[:n]))
	ents, err := os.ReadDir(o.dest)
	require.NoError(t, err)
	require.Len(t, ents, 1, "only the plugin is left in the CNI bin dir")
	require.Contains(t, logs.String(), "installed "+dst)
	require.NoError(t, verify(o))
}

func TestInstallLeavesAnIdenticalFileAlone(t *testing.T) {
	o, logs, l := setup(t)
	require.NoError(t, run(context.Background(), o, l))
	st1, err := os.Stat(filepath.Join(o.dest, "bond"))
	require.NoError(t, err)
	logs.Reset()
	require.NoError(t, run(context.Background(), o, l))
	st2, err := os.Stat(filepath.Join(o.dest, "bond"))
	require.NoError(t, err)
	require.True(t, os.SameFile(st1, st2), "an identical file is not rewritten")
	require.NotContains(t, logs.String(), "installed")
}

func TestInstallReplacesANonExecutableCopy(t *testing.T) {
	o, _, l := setup(t)
	require.NoError(t, os.WriteFile(filepath.Join(o.dest, "bond"), []byte("new plugin"), 0o644))
	require.Error(t, verify(o))
	require.NoError(t, run(context.Background(), o, l))
	require.NoError(t, verify(o))
}

func TestCheckReportsMissingAndDifferentFiles(t *testing.T) {
	o, _, _ := setup(t)
	o.check = true
	err := run(context.Background(), o, log.New(&bytes.Buffer{}, "", 0))
	require.ErrorContains(t, err, "missing or differs")
	require.NoError(t, os.WriteFile(filepath.Join(o.dest, "bond"), []byte("other"), 0o755))
	require.Error(t, run(context.Background(), o, log.New(&bytes.Buffer{}, "", 0)))
}

func TestMissingSourceFails(t *testing.T) {
	o, _, l := setup(t)
	o.files = []string{"bond", "bond-debugd"}
	require.Error(t, run(context.Background(), o, l))
}

func TestStaleTemporaryFilesAreRemoved(t *testing.T) {
	o, _, l := setup(t)
	stale := filepath.Join(o.dest, ".bond"+tmpMarker+"123")
	fresh := filepath.Join(o.dest, ".bond"+tmpMarker+"456")
	other := filepath.Join(o.dest, "host-local")
	for _, p := range []string{stale, fresh, other} {
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o755))
	}
	old := time.Now().Add(-2 * staleAfter)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, run(context.Background(), o, l))
	require.NoFileExists(t, stale)
	require.FileExists(t, fresh, "a recent temporary file may belong to a running installer")
	require.FileExists(t, other, "other plugins are never touched")
}

func TestSleepReinstallsUntilStopped(t *testing.T) {
	o, _, l := setup(t)
	o.sleep, o.interval = true, 10*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, l) }()
	dst := filepath.Join(o.dest, "bond")
	require.Eventually(t, func() bool { return verify(o) == nil }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, os.Remove(dst))
	require.Eventually(t, func() bool { return verify(o) == nil }, 5*time.Second, 5*time.Millisecond,
		"a removed plugin is put back")
	cancel()
	require.NoError(t, <-done)
	require.FileExists(t, dst, "stopping the installer leaves the plugin in place")
}

func TestUninstallRefusesWhileAttachmentsAreRecorded(t *testing.T) {
	o, _, l := setup(t)
	require.NoError(t, run(context.Background(), o, l))
	require.NoError(t, os.Mkdir(o.stateDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(o.stateDir, "abc_net1.json"), []byte("{}"), 0o600))

	o.uninstall = true
	err := run(context.Background(), o, l)
	require.ErrorContains(t, err, "1 bond attachment(s) still recorded")
	require.ErrorContains(t, err, "abc_net1.json")
	require.FileExists(t, filepath.Join(o.dest, "bond"))

	o.force = true
	require.NoError(t, run(context.Background(), o, l))
	require.NoFileExists(t, filepath.Join(o.dest, "bond"))
}

// Records an earlier plugin version left at its location hold the
// uninstall as well.
func TestUninstallRefusesWhileThePreviousLocationHasRecords(t *testing.T) {
	o, _, l := setup(t)
	require.NoError(t, run(context.Background(), o, l))
	require.NoError(t, os.Mkdir(o.prevStateDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(o.prevStateDir, "old_net1.json"), []byte("{}"), 0o600))
	o.uninstall = true
	err := run(context.Background(), o, l)
	require.ErrorContains(t, err, "old_net1.json")
	require.ErrorContains(t, err, o.prevStateDir)
	require.FileExists(t, filepath.Join(o.dest, "bond"))
}

func TestUninstallWithoutRecordsAndTwice(t *testing.T) {
	o, _, l := setup(t)
	require.NoError(t, run(context.Background(), o, l))
	o.uninstall = true
	check := o
	check.check = true
	require.ErrorContains(t, run(context.Background(), check, l), "still there")
	require.NoError(t, run(context.Background(), o, l), "no state dir: nothing recorded")
	require.NoFileExists(t, filepath.Join(o.dest, "bond"))
	require.NoError(t, run(context.Background(), check, l), "-check -uninstall: gone")
	require.NoError(t, run(context.Background(), o, l), "uninstalling twice is fine")
}

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	o, err := parseFlags(nil, getenv)
	require.NoError(t, err)
	require.Equal(t, "/host/opt/cni/bin", o.dest)
	require.True(t, o.sleep)
	require.Equal(t, []string{"bond"}, o.files)

	// The old bond-cni image's variables keep working.
	env["CNI_BIN_DIR"], env["SLEEP"] = "/host/var/lib/cni/bin", "false"
	o, err = parseFlags(nil, getenv)
	require.NoError(t, err)
	require.Equal(t, "/host/var/lib/cni/bin", o.dest)
	require.False(t, o.sleep)

	o, err = parseFlags([]string{"-dest=/x", "-files=bond, bond-debugd", "-sleep"}, getenv)
	require.NoError(t, err)
	require.Equal(t, "/x", o.dest)
	require.True(t, o.sleep)
	require.Equal(t, []string{"bond", "bond-debugd"}, o.files)

	for _, bad := range [][]string{{"-files=../bond"}, {"-files=,"}, {"extra"}, {"-interval=-1s"}} {
		_, err := parseFlags(bad, getenv)
		require.Error(t, err, strings.Join(bad, " "))
	}
}
