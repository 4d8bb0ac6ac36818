package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/adapters/state"
)

// TestMain lets the tests run this binary's main as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("BOND_DEBUGD_RUN_MAIN") == "1" {
		os.Args = append([]string{"bond-debugd"}, strings.Fields(os.Getenv("BOND_DEBUGD_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func noEnv(string) string { return "" }

func TestFlagsDefaults(t *testing.T) {
	o, v, err := parseFlags(nil, io.Discard, noEnv)
	require.NoError(t, err)
	assert.False(t, v)
	assert.Equal(t, "127.0.0.1:9487", o.Listen)
	assert.Equal(t, state.DefaultDir, o.StateDir)
	assert.Equal(t, state.PreviousDir, o.PreviousStateDir)
	assert.Equal(t, "info", o.LogLevel)

	o, _, err = parseFlags(nil, io.Discard, func(k string) string {
		if k == "BOND_STATE_DIR" {
			return "/srv/bond"
		}
		return ""
	})
	require.NoError(t, err)
	assert.Equal(t, "/srv/bond", o.StateDir, "BOND_STATE_DIR is the default, as for the plugin")
}

func TestFlagsListenOnlyLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:9487", "[::1]:9487", "127.0.0.53:1", "127.0.0.1:0"} {
		_, _, err := parseFlags([]string{"--listen", ok}, io.Discard, noEnv)
		assert.NoError(t, err, ok)
	}
	for addr, why := range map[string]string{
		"0.0.0.0:9487":     "not a loopback address",
		"[::]:9487":        "not a loopback address",
		":9487":            "every address",
		"10.0.0.5:9487":    "not a loopback address",
		"localhost:9487":   "not an IP address",
		"node1:9487":       "not an IP address",
		"127.0.0.1":        "missing port",
		"127.0.0.1:http":   "not a number",
		"[fe80::1]:9487":   "not a loopback address",
		"192.168.1.1:9487": "not a loopback address",
	} {
		_, _, err := parseFlags([]string{"--listen", addr}, io.Discard, noEnv)
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), why, addr)
	}
}

func TestFlagsVersionAndErrors(t *testing.T) {
	_, v, err := parseFlags([]string{"--version"}, io.Discard, noEnv)
	require.NoError(t, err)
	assert.True(t, v)
	_, _, err = parseFlags([]string{"--bogus"}, io.Discard, noEnv)
	assert.Error(t, err)
	_, _, err = parseFlags([]string{"extra"}, io.Discard, noEnv)
	assert.Error(t, err)
}

func TestFlagsNodeAndTextfile(t *testing.T) {
	o, _, err := parseFlags(nil, io.Discard, func(k string) string {
		if k == "NODE_NAME" {
			return "worker-7"
		}
		return ""
	})
	require.NoError(t, err)
	assert.Equal(t, "worker-7", o.NodeName, "NODE_NAME (the downward API) is the default")
	assert.Empty(t, o.Textfile, "no textfile unless asked")
	host, _ := os.Hostname()
	o, _, err = parseFlags(nil, io.Discard, noEnv)
	require.NoError(t, err)
	assert.Equal(t, host, o.NodeName)

	o, _, err = parseFlags([]string{"--textfile", "/tf/bondcni.prom", "--textfile-interval", "15s"}, io.Discard, noEnv)
	require.NoError(t, err)
	assert.Equal(t, "/tf/bondcni.prom", o.Textfile)
	assert.Equal(t, 15*time.Second, o.TextfileInterval)
	_, _, err = parseFlags([]string{"--textfile", "/tf/bondcni.txt"}, io.Discard, noEnv)
	assert.ErrorContains(t, err, "only files named *.prom")
	_, _, err = parseFlags([]string{"--textfile", "/tf/b.prom", "--textfile-interval", "1ms"}, io.Discard, noEnv)
	assert.ErrorContains(t, err, "at least 1s")
}

func TestWiringValidates(t *testing.T) {
	o, _, err := parseFlags(nil, io.Discard, noEnv)
	require.NoError(t, err)
	require.NoError(t, fx.ValidateApp(Module(o), fx.Invoke(func(*Daemon) {})))
}

// TestDaemonServesAndStops starts the fx-wired daemon in-process on an
// ephemeral loopback port over an empty state dir.
func TestDaemonServesAndStops(t *testing.T) {
	o := Options{Listen: "127.0.0.1:0", StateDir: t.TempDir(), LogLevel: "error", ShutdownTimeout: 2 * time.Second,
		Textfile: filepath.Join(t.TempDir(), "bondcni.prom"), TextfileInterval: time.Hour}
	var d *Daemon
	fxApp := fx.New(Module(o), fx.Populate(&d), fx.NopLogger)
	require.NoError(t, fxApp.Err())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, fxApp.Start(ctx))
	base := "http://" + d.Addr().String()

	r, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	var h map[string]string
	require.NoError(t, json.NewDecoder(r.Body).Decode(&h))
	r.Body.Close()
	assert.Equal(t, "ok", h["status"])

	r, err = http.Get(base + "/v1/attachments")
	require.NoError(t, err)
	var l httpdebug.ListJSON
	require.NoError(t, json.NewDecoder(r.Body).Decode(&l))
	r.Body.Close()
	assert.Equal(t, 0, l.Count)

	data, err := os.ReadFile(o.Textfile)
	require.NoError(t, err, "the textfile is written at start")
	assert.Contains(t, string(data), "bondcni_attachments 0")
	assert.Contains(t, string(data), `bondcni_build_info{goversion=`)

	require.NoError(t, fxApp.Stop(ctx))
	_, err = os.Stat(o.Textfile)
	assert.True(t, os.IsNotExist(err), "the textfile is removed at stop")
	_, err = http.Get(base + "/healthz")
	assert.Error(t, err, "stopped")
}

func TestDaemonRefusesNonLoopbackAtStart(t *testing.T) {
	d := NewDaemon(Options{Listen: "0.0.0.0:0"}, httpdebug.New(nil, httpdebug.Options{}), nil, slog.New(slog.DiscardHandler), nil)
	err := d.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a loopback address")
}

// TestSIGTERMGracefulShutdown runs main as a process and stops it with
// SIGTERM: it exits 0.
func TestSIGTERMGracefulShutdown(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "BOND_DEBUGD_RUN_MAIN=1",
		"BOND_DEBUGD_ARGS=--listen 127.0.0.1:0 --log-level info --state-dir "+t.TempDir())
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	addrRE := regexp.MustCompile(`addr=http://(127\.0\.0\.1:\d+)/`)
	sc := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	require.NotEmpty(t, addr, "the daemon logs its address")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	r, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusOK, r.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "exit status 0 after SIGTERM")
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
}

// TestVersionFromLdflags builds the binary as make does and checks
// --version prints what -X main.version and -X main.commit set.
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "bond-debugd")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=abc1234", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin, "--version").Output()
	require.NoError(t, err)
	assert.Regexp(t, `^bond-debugd v9\.8\.7 \(commit abc1234, go1\.\d+`, string(out))
}
