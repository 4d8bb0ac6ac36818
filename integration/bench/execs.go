package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// execResult is one cold exec: wall time from fork to reaped exit, and
// CPU time (user+sys from wait4's rusage, which counts the process and the
// children it reaped, so a plugin's includes its IPAM's).
type execResult struct {
	Wall   time.Duration
	CPU    time.Duration
	Sys    time.Duration // the kernel's share of CPU
	Stdout []byte
	Stderr []byte
}

// cpuOf reads the CPU time of a reaped process.
func cpuOf(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// sysOf reads the system (kernel) CPU time of a reaped process.
func sysOf(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.SystemTime()
}

// run execs path once with env (added to ours, as libcni's invoke does) and
// stdin. A non-zero exit is an error carrying the output. (The child's
// ru_maxrss would be worthless here: see integration/bench/rusage.)
func run(path string, env []string, stdin []byte, args ...string) (execResult, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := execResult{Wall: time.Since(start), CPU: cpuOf(cmd.ProcessState), Sys: sysOf(cmd.ProcessState), Stdout: out.Bytes(), Stderr: errb.Bytes()}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return r, fmt.Errorf("%s exited %d: stdout %q stderr %q", path, ee.ExitCode(), out.String(), errb.String())
		}
		return r, fmt.Errorf("running %s: %w", path, err)
	}
	return r, nil
}

// peakRSS runs path through the bond-rusage helper and returns the child's
// ru_maxrss (KiB; the larger of its own peak and its reaped children's,
// here the IPAM plugin's) and the helper's own peak, the resolution.
func peakRSS(helper, path string, env []string, stdin []byte) (maxrss, resolution int64, err error) {
	f, err := os.CreateTemp("", "rusage")
	if err != nil {
		return 0, 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if _, err := run(helper, env, stdin, "-o", f.Name(), path); err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(string(b), "maxrss_kib=%d hwm_self_kib=%d", &maxrss, &resolution); err != nil {
		return 0, 0, fmt.Errorf("bond-rusage wrote %q: %w", b, err)
	}
	return maxrss, resolution, nil
}

// cniEnv is the environment a runtime gives a plugin for one verb.
func cniEnv(cmd, containerID, netns, ifname, path string) []string {
	return []string{
		"CNI_COMMAND=" + cmd,
		"CNI_CONTAINERID=" + containerID,
		"CNI_NETNS=" + netns,
		"CNI_IFNAME=" + ifname,
		"CNI_ARGS=" + podArgs(containerID),
		"CNI_PATH=" + path,
	}
}

// podArgs is the CNI_ARGS a Kubernetes runtime sends (libcni builds the
// same string from RuntimeConf.Args).
func podArgs(containerID string) string {
	return "IgnoreUnknown=true;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-" + containerID
}

// cpuExec is the invoke.Exec libcni runs the plugin with in this bench:
// like invoke's RawExec (environment as given, stdin, stdout parsed as the
// result or the CNI error), and it keeps the CPU and wall time of each
// exec by CNI_COMMAND and CNI_CONTAINERID, for the per-call CPU figures
// and the share of a call that is libcni's own work.
type cpuExec struct {
	mu  sync.Mutex
	cpu map[string]cpuTime
}

// cpuTime is one exec's CPU time and its wall time from start to reaping.
type cpuTime struct{ total, sys, wall time.Duration }

func newCPUExec() *cpuExec { return &cpuExec{cpu: map[string]cpuTime{}} }

func cpuKey(command, containerID string) string { return command + "/" + containerID }

func (e *cpuExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = environ
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var command, ctr string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "CNI_COMMAND="); ok {
			command = v
		} else if v, ok := strings.CutPrefix(kv, "CNI_CONTAINERID="); ok {
			ctr = v
		}
	}
	e.mu.Lock()
	e.cpu[cpuKey(command, ctr)] = cpuTime{cpuOf(cmd.ProcessState), sysOf(cmd.ProcessState), wall}
	e.mu.Unlock()
	if err != nil {
		var te types.Error
		if json.Unmarshal(out.Bytes(), &te) == nil && te.Code != 0 {
			return nil, &te
		}
		return nil, fmt.Errorf("%s: %w: %s", path, err, errb.Bytes())
	}
	return out.Bytes(), nil
}

// take returns and forgets the CPU time of one exec.
func (e *cpuExec) take(command, containerID string) cpuTime {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := cpuKey(command, containerID)
	d := e.cpu[k]
	delete(e.cpu, k)
	return d
}

func (e *cpuExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func (e *cpuExec) Decode(b []byte) (version.PluginInfo, error) {
	var d version.PluginDecoder
	return d.Decode(b)
}
