package ipam

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return p
}

func TestProcPassesStdinAndStderr(t *testing.T) {
	// More than a pipe holds each way: neither side may wait for the other.
	big := bytes.Repeat([]byte("x"), 300<<10)
	p := script(t, `wc -c >&2; head -c 200000 /dev/zero | tr '\0' e >&2; echo '{"ok":true}'`)
	var stderr bytes.Buffer
	out, err := (&proc{stderr: &stderr}).ExecPlugin(context.Background(), p, big, []string{"PATH=" + os.Getenv("PATH")})
	require.NoError(t, err)
	assert.Equal(t, "{\"ok\":true}\n", string(out))
	lines := strings.SplitN(stderr.String(), "\n", 2)
	assert.Equal(t, strconv.Itoa(len(big)), strings.TrimSpace(lines[0]), "the plugin read all of stdin")
	assert.Len(t, lines[1], 200000, "and its stderr reached ours whole")
}

func TestProcEnvironmentIsExactlyEnviron(t *testing.T) {
	p := script(t, `echo "$CNI_COMMAND|$HOME"`)
	t.Setenv("HOME", "/root-of-the-plugin")
	out, err := (&proc{}).ExecPlugin(context.Background(), p, nil, []string{"CNI_COMMAND=DEL"})
	require.NoError(t, err)
	assert.Equal(t, "DEL|\n", string(out))
}

func TestProcFailures(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct{ body, msg string }{
		"silent":          {"exit 3", "netplugin failed with no error message: exit status 3"},
		"stderr only":     {"echo 'disk full' >&2; exit 1", `netplugin failed: "disk full\n": exit status 1`},
		"killed":          {"kill -9 $$", "netplugin failed with no error message: signal: killed"},
		"error JSON":      {`echo '{"code":11,"msg":"pool empty"}'; exit 1`, "pool empty"},
		"not JSON stdout": {"echo oops; exit 1", `netplugin failed but error parsing its diagnostic message "oops\n"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&proc{}).ExecPlugin(ctx, script(t, c.body), nil, nil)
			var te *types.Error
			require.ErrorAs(t, err, &te)
			assert.Contains(t, te.Msg, c.msg)
		})
	}
	_, err := (&proc{}).ExecPlugin(ctx, "/nonexistent/plugin", nil, nil)
	var te *types.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "netplugin failed with no error message: fork/exec /nonexistent/plugin: no such file or directory", te.Msg)
}

func TestProcKillsAPluginWhenTheContextEnds(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	p := script(t, "echo $$ > "+pidFile+".tmp; mv "+pidFile+".tmp "+pidFile+"; exec sleep 60")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := (&proc{}).ExecPlugin(ctx, p, nil, nil)
		done <- err
	}()
	require.Eventually(t, func() bool { _, err := os.Stat(pidFile); return err == nil }, 10*time.Second, 5*time.Millisecond)
	cancel()
	err := <-done
	var te *types.Error
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Msg, "signal: killed")
	data, rerr := os.ReadFile(pidFile)
	require.NoError(t, rerr)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the plugin is gone and reaped")
}

// busy opens the plugin for writing, as an installer replacing it would,
// and returns what closes it again.
func busy(t *testing.T, path string) func() {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	return func() { w.Close() }
}

func onBusyWait(t *testing.T, fn func(n int) error) {
	t.Helper()
	saved := waitBusy
	t.Cleanup(func() { waitBusy = saved })
	n := 0
	waitBusy = func(context.Context) error { n++; return fn(n) }
}

func TestProcRunsABusyBinaryOnceItIsFree(t *testing.T) {
	p := script(t, "echo ran")
	done := busy(t, p)
	onBusyWait(t, func(n int) error {
		if n == 2 {
			done() // the installer finishes during the second wait
		}
		return nil
	})
	out, err := (&proc{}).ExecPlugin(context.Background(), p, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "ran\n", string(out))
}

func TestProcGivesUpOnABinaryThatStaysBusy(t *testing.T) {
	p := script(t, "exit 0")
	busy(t, p)
	waits := 0
	onBusyWait(t, func(n int) error { waits = n; return nil })
	_, err := (&proc{}).ExecPlugin(context.Background(), p, nil, nil)
	var te *types.Error
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Msg, "text file busy")
	assert.Equal(t, busyRetries, waits)
}

func TestProcStartsNothingOnceTheContextEnded(t *testing.T) {
	dir := t.TempDir()
	p := script(t, "touch "+filepath.Join(dir, "ran"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&proc{}).ExecPlugin(ctx, p, nil, nil)
	var te *types.Error
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Msg, "context canceled")
	assert.NoFileExists(t, filepath.Join(dir, "ran"))

	// Ended while waiting for a busy binary: the same.
	busy(t, p)
	onBusyWait(t, func(int) error { return context.Canceled })
	_, err = (&proc{}).ExecPlugin(context.Background(), p, nil, nil)
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Msg, "context canceled")
}
